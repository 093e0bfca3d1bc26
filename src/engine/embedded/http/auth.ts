// Owns checking credentials on every endpoint: HTTP basic auth, X-ClickHouse-User/Key headers, or user/password URL params.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Role } from '../../../config/roles.js';

export interface Credentials {
  username: string;
  password: string;
}

/** The users the engine accepts, each with its role; undefined when the engine runs with --no-auth. */
export type Users = ReadonlyArray<Credentials & { role: Role }>;

export type AuthOutcome =
  | { ok: true; username: string; role: Role }
  | { ok: false; reason: 'missing' | 'wrong'; username: string | undefined };

/** Reads the credentials a request presents, in ClickHouse's order of precedence. */
export function presentedCredentials(req: IncomingMessage, url?: URL): Partial<Credentials> {
  const header = req.headers.authorization;
  if (header && /^basic /i.test(header)) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1 ? { username: decoded } : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  const user = req.headers['x-clickhouse-user'];
  if (typeof user === 'string') {
    const key = req.headers['x-clickhouse-key'];
    return { username: user, password: typeof key === 'string' ? key : '' };
  }
  const urlUser = url?.searchParams.get('user');
  if (urlUser !== null && urlUser !== undefined) return { username: urlUser, password: url?.searchParams.get('password') ?? '' };
  return {};
}

/** Finds the user presented and checks its password in constant time; without users (--no-auth) everyone is admin. */
export function checkCredentials(presented: Partial<Credentials>, users: Users | undefined): AuthOutcome {
  if (!users) return { ok: true, username: presented.username ?? 'default', role: 'admin' };
  if (presented.username === undefined) return { ok: false, reason: 'missing', username: undefined };
  const user = users.find((u) => u.username === presented.username);
  // Compare even for an unknown user, so that timing does not tell which user names exist.
  const ok = constantTimeEqual(presented.password ?? '', user?.password ?? '\u0000unknown-user') && user !== undefined;
  return ok ? { ok: true, username: user.username, role: user.role } : { ok: false, reason: 'wrong', username: presented.username };
}

/** Whether the outcome is a signed-in user of one of `roles`. */
export function hasRole(outcome: AuthOutcome, roles: readonly Role[]): boolean {
  return outcome.ok && roles.includes(outcome.role);
}

/** Equal strings, compared through their digests so that neither content nor length shows in the timing. */
export function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}
