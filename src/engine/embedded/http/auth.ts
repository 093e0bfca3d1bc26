// Owns checking credentials on both endpoints: HTTP basic auth, X-ClickHouse-User/Key headers, or user/password URL params.

import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export interface Credentials {
  username: string;
  password: string;
}

export type AuthOutcome =
  | { ok: true; username: string }
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

export function checkCredentials(presented: Partial<Credentials>, expected: Credentials | undefined): AuthOutcome {
  if (!expected) return { ok: true, username: presented.username ?? 'default' };
  if (presented.username === undefined) return { ok: false, reason: 'missing', username: undefined };
  const ok = presented.username === expected.username && safeEqual(presented.password ?? '', expected.password);
  return ok ? { ok: true, username: presented.username } : { ok: false, reason: 'wrong', username: presented.username };
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
