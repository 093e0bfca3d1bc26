// Owns applying the chosen scrub mode to an event's text: attribute values and status (error) messages.

import { nodeCrypto } from '../lazy-crypto.js';
import { hashKey, userHome } from './identity.js';
import { mayHoldPii, redact, scrubShaped, shapeOf, type Replace, type ScrubMode } from './scrub.js';

export type Scrub = (text: string) => string;

const identity: Scrub = (text) => text;

/** A scrubber for `mode`; 'hash' reads (or creates) the install's key once. */
export function createScrubber(mode: ScrubMode, env: NodeJS.ProcessEnv = process.env): Scrub {
  if (mode === 'off') return identity;
  const home = userHome(env);
  let replace: Replace = redact;
  if (mode === 'hash') {
    const key = hashKey(env);
    const { createHmac } = nodeCrypto();
    replace = (kind, value) => `[${kind}:${createHmac('sha256', key).update(value).digest('hex').slice(0, 12)}]`;
  }
  // Values worth a full scan often repeat (routes, addresses): a bounded memo makes a repeat cost one Map lookup.
  // A value the one-pass shape clears (no detector could match: most unique sentences and ids) is not kept: storing
  // and clearing such values cost more than looking at them again.
  const memo = new Map<string, string>();
  return (text) => {
    if (!mayHoldPii(text)) return text;
    const known = memo.get(text);
    if (known !== undefined) return known;
    const shape = shapeOf(text);
    if (shape === undefined) return text;
    const clean = scrubShaped(text, shape, replace, home);
    if (text.length <= MEMO_MAX_LENGTH) {
      if (memo.size >= MEMO_ENTRIES) memo.clear();
      memo.set(text, clean);
    }
    return clean;
  };
}

const MEMO_ENTRIES = 4096;
const MEMO_MAX_LENGTH = 256;
