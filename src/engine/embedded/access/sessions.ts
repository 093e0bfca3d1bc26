// Owns ClickHouse HTTP sessions on the embedded engine: each session's settings, database and temporary tables, and expiry.

import { CH, chError } from '../../../clickhouse/errors.js';

/** ClickHouse's defaults: `session_timeout` 60 s, at most `max_session_timeout` 3600 s. */
export interface SessionLimits {
  timeoutSeconds: number;
  maxTimeoutSeconds: number;
  maxSessions: number;
}

export const SESSION_DEFAULTS: Readonly<SessionLimits> = Object.freeze({ timeoutSeconds: 60, maxTimeoutSeconds: 3600, maxSessions: 1000 });

export interface Session {
  readonly id: string;
  readonly user: string;
  readonly settings: Map<string, string>;
  database: string | undefined;
  readonly temporaryTables: Set<string>;
  timeoutMs: number;
  lastUsed: number;
  busy: boolean;
}

export interface AcquireOptions {
  /** `session_timeout` as sent (seconds), if sent. */
  timeout?: string | null;
  /** `session_check=1`: the session must exist already. */
  check?: boolean;
}

/**
 * Sessions are keyed by user and id, as in ClickHouse: another user naming the same id gets a session of its own.
 * A session serves one request at a time (SESSION_IS_LOCKED otherwise); an idle one expires after its timeout, and
 * past `maxSessions` the longest idle is closed, so their number stays bounded.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly onClose: (session: Session) => Promise<void>,
    private readonly limits: Readonly<SessionLimits> = SESSION_DEFAULTS,
  ) {}

  async acquire(user: string, id: string, options: AcquireOptions = {}, now = Date.now()): Promise<Session> {
    const timeoutMs = this.timeoutOf(options.timeout);
    await this.expire(now);
    const key = `${user}\u0000${id}`;
    let session = this.sessions.get(key);
    if (!session) {
      if (options.check) throw chError(CH.SESSION_NOT_FOUND, `Session ${id} not found`);
      if (this.sessions.size >= this.limits.maxSessions) await this.closeLongestIdle();
      session = { id, user, settings: new Map(), database: undefined, temporaryTables: new Set(), timeoutMs, lastUsed: now, busy: false };
      this.sessions.set(key, session);
    }
    if (session.busy) throw chError(CH.SESSION_IS_LOCKED, `Session ${id} is locked by a concurrent client`);
    session.busy = true;
    if (options.timeout !== undefined && options.timeout !== null) session.timeoutMs = timeoutMs;
    return session;
  }

  release(session: Session, now = Date.now()): void {
    session.busy = false;
    session.lastUsed = now;
  }

  /** Temporary table names of every session but `session` (they must stay invisible to it). */
  temporaryTablesOfOthers(session: Session | undefined): Set<string> {
    const out = new Set<string>();
    for (const other of this.sessions.values()) {
      if (other === session) continue;
      for (const name of other.temporaryTables) out.add(name);
    }
    return out;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Closes idle sessions whose timeout has passed. */
  async expire(now = Date.now()): Promise<void> {
    for (const [key, session] of this.sessions) {
      if (!session.busy && now - session.lastUsed > session.timeoutMs) await this.close(key, session);
    }
  }

  async closeAll(): Promise<void> {
    for (const [key, session] of this.sessions) await this.close(key, session);
  }

  private async closeLongestIdle(): Promise<void> {
    let oldest: [string, Session] | undefined;
    for (const entry of this.sessions) {
      if (!entry[1].busy && (!oldest || entry[1].lastUsed < oldest[1].lastUsed)) oldest = entry;
    }
    if (oldest) await this.close(oldest[0], oldest[1]);
  }

  private async close(key: string, session: Session): Promise<void> {
    this.sessions.delete(key);
    await this.onClose(session).catch(() => undefined);
  }

  private timeoutOf(raw: string | null | undefined): number {
    if (raw === undefined || raw === null) return this.limits.timeoutSeconds * 1000;
    const seconds = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw) || seconds > this.limits.maxTimeoutSeconds) {
      throw chError(
        CH.INVALID_SESSION_TIMEOUT,
        `Invalid session timeout: '${raw}' (expected seconds from 0 to ${this.limits.maxTimeoutSeconds})`,
      );
    }
    return seconds * 1000;
  }
}
