// Owns the dashboard login's defences: sessions that expire and are bounded in number, failed attempts throttled
// per client address, and credential comparison that takes the same time whatever the input.
import { randomBytes } from 'node:crypto';

export interface SessionStoreOptions {
  ttlMs: number;
  /** The most sessions kept; the oldest are dropped first. */
  max: number;
}

/** Random session tokens with an expiry. Expired ones are pruned on every new session, and their number is bounded. */
export class SessionStore {
  readonly #sessions = new Map<string, number>();
  readonly #options: SessionStoreOptions;

  constructor(options: SessionStoreOptions) {
    this.#options = options;
  }

  create(now = Date.now()): string {
    this.prune(now);
    while (this.#sessions.size >= this.#options.max) {
      const oldest = this.#sessions.keys().next().value as string;
      this.#sessions.delete(oldest);
    }
    const token = randomBytes(24).toString('base64url');
    this.#sessions.set(token, now + this.#options.ttlMs);
    return token;
  }

  valid(token: string | undefined, now = Date.now()): boolean {
    if (token === undefined) return false;
    const expiry = this.#sessions.get(token);
    if (expiry === undefined) return false;
    if (expiry > now) return true;
    this.#sessions.delete(token);
    return false;
  }

  delete(token: string): void {
    this.#sessions.delete(token);
  }

  prune(now = Date.now()): void {
    for (const [token, expiry] of this.#sessions) if (expiry <= now) this.#sessions.delete(token);
  }

  get size(): number {
    return this.#sessions.size;
  }
}

export interface ThrottleOptions {
  /** Failed attempts allowed per address within `windowMs`. */
  attempts: number;
  windowMs: number;
  /** The most addresses remembered; the least recent are forgotten first. */
  maxAddresses: number;
}

/** Counts failed logins per client address over a sliding window. */
export class LoginThrottle {
  readonly #failures = new Map<string, number[]>();
  readonly #options: ThrottleOptions;

  constructor(options: ThrottleOptions) {
    this.#options = options;
  }

  /** Seconds the address must wait before its next attempt, or 0 when it may try now. */
  retryAfter(address: string, now = Date.now()): number {
    const recent = this.#recent(address, now);
    if (recent.length < this.#options.attempts) return 0;
    const oldest = recent[recent.length - this.#options.attempts] as number;
    return Math.max(1, Math.ceil((oldest + this.#options.windowMs - now) / 1000));
  }

  failed(address: string, now = Date.now()): void {
    const recent = this.#recent(address, now);
    recent.push(now);
    this.#failures.delete(address);
    this.#failures.set(address, recent);
    if (this.#failures.size > this.#options.maxAddresses) {
      for (const [key, times] of this.#failures) if ((times[times.length - 1] ?? 0) <= now - this.#options.windowMs) this.#failures.delete(key);
      while (this.#failures.size > this.#options.maxAddresses) this.#failures.delete(this.#failures.keys().next().value as string);
    }
  }

  succeeded(address: string): void {
    this.#failures.delete(address);
  }

  get addresses(): number {
    return this.#failures.size;
  }

  #recent(address: string, now: number): number[] {
    return (this.#failures.get(address) ?? []).filter((t) => t > now - this.#options.windowMs);
  }
}
