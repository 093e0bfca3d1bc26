// Owns applying the chosen scrub mode to an event's text: attribute values and status (error) messages.

import { createHmac } from 'node:crypto';
import { hashKey, userHome } from './identity.js';
import { redact, scrubText, type Replace, type ScrubMode } from './scrub.js';

export type Scrub = (text: string) => string;

const identity: Scrub = (text) => text;

/** A scrubber for `mode`; 'hash' reads (or creates) the install's key once. */
export function createScrubber(mode: ScrubMode, env: NodeJS.ProcessEnv = process.env): Scrub {
  if (mode === 'off') return identity;
  const home = userHome(env);
  let replace: Replace = redact;
  if (mode === 'hash') {
    const key = hashKey(env);
    replace = (kind, value) => `[${kind}:${createHmac('sha256', key).update(value).digest('hex').slice(0, 12)}]`;
  }
  return (text) => scrubText(text, replace, home);
}
