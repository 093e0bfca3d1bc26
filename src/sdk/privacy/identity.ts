// Owns the per-install files under ~/.automagik: the anonymous user id and the key that makes scrub hashes stable.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { nodeCrypto } from '../lazy-crypto.js';

/** The user's home folder as the environment gives it (HOME, USERPROFILE), else the OS's answer. */
export function userHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.HOME || env.USERPROFILE || homedir();
}

/** ~/.automagik: shared by every project on this machine that uses the SDK. */
export function installDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(userHome(env), '.automagik');
}

/**
 * Reads `file`, or creates it with `make()` (exclusive create, so two processes racing agree on one value).
 * Undefined when the folder is not writable: the caller falls back to something that is not kept.
 */
function readOrCreate(file: string, make: () => string, valid: (text: string) => boolean): string | undefined {
  const read = (): string | undefined => {
    try {
      const text = readFileSync(file, 'utf8').trim();
      return valid(text) ? text : undefined;
    } catch {
      return undefined;
    }
  };
  const existing = read();
  if (existing) return existing;
  try {
    mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
    const value = make();
    writeFileSync(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
    return value;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return read();
    return undefined;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The anonymous install id in ~/.automagik/user_id (a random UUID, created on first use). */
export function anonymousId(env: NodeJS.ProcessEnv = process.env): string {
  return readOrCreate(join(installDir(env), 'user_id'), () => nodeCrypto().randomUUID(), (t) => UUID.test(t)) ?? nodeCrypto().randomUUID();
}

/** The secret key for `scrub: 'hash'` in ~/.automagik/hash_key: hashes are stable on this install, not guessable elsewhere. */
export function hashKey(env: NodeJS.ProcessEnv = process.env): string {
  return readOrCreate(join(installDir(env), 'hash_key'), () => nodeCrypto().randomBytes(32).toString('hex'), (t) => /^[0-9a-f]{64}$/.test(t)) ?? nodeCrypto().randomBytes(32).toString('hex');
}
