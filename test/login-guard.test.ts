import { describe, expect, it } from 'vitest';
import { checkCredentials, constantTimeEqual } from '../src/engine/embedded/http/auth.js';
import { LoginThrottle, SessionStore } from '../src/engine/embedded/http/login-guard.js';

describe('dashboard sessions', () => {
  it('expire, and expired ones are pruned when a new one is made', () => {
    const store = new SessionStore({ ttlMs: 1_000, max: 100 });
    const a = store.create(0);
    const b = store.create(500);
    expect(store.valid(a, 999)).toBe(true);
    expect(store.valid(a, 1_000)).toBe(false);
    expect(store.size).toBe(1); // reading an expired one drops it
    store.create(1_600); // b expired at 1500: pruned
    expect(store.valid(b, 1_400)).toBe(false);
    expect(store.size).toBe(1);
  });

  it('are bounded in number: the oldest goes first', () => {
    const store = new SessionStore({ ttlMs: 60_000, max: 3 });
    const tokens = [0, 1, 2, 3, 4].map((t) => store.create(t));
    expect(store.size).toBe(3);
    expect(tokens.map((t) => store.valid(t, 10))).toEqual([false, false, true, true, true]);
  });

  it('are unguessable and distinct', () => {
    const store = new SessionStore({ ttlMs: 60_000, max: 1_000 });
    const tokens = new Set(Array.from({ length: 500 }, () => store.create()));
    expect(tokens.size).toBe(500);
    for (const t of tokens) expect(t).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(store.valid(undefined)).toBe(false);
    expect(store.valid('forged')).toBe(false);
  });
});

describe('the failed-login throttle', () => {
  const throttle = () => new LoginThrottle({ attempts: 10, windowMs: 60_000, maxAddresses: 3 });

  it('lets 10 failures a minute through per address, then names the wait until the oldest ages out', () => {
    const t = throttle();
    for (let i = 0; i < 10; i++) {
      expect(t.retryAfter('10.0.0.1', i * 1_000)).toBe(0);
      t.failed('10.0.0.1', i * 1_000);
    }
    expect(t.retryAfter('10.0.0.1', 10_000)).toBe(50);
    expect(t.retryAfter('10.0.0.2', 10_000)).toBe(0);
    expect(t.retryAfter('10.0.0.1', 59_999)).toBe(1);
    expect(t.retryAfter('10.0.0.1', 60_001)).toBe(0); // the first failure is a minute old
  });

  it('forgets an address after a success', () => {
    const t = throttle();
    for (let i = 0; i < 10; i++) t.failed('a', i);
    expect(t.retryAfter('a', 20)).toBeGreaterThan(0);
    t.succeeded('a');
    expect(t.retryAfter('a', 20)).toBe(0);
  });

  it('remembers a bounded number of addresses', () => {
    const t = throttle();
    for (let i = 0; i < 1_000; i++) t.failed(`addr-${i}`, i);
    expect(t.addresses).toBe(3);
  });
});

describe('credential comparison', () => {
  it('is right for equal, different and different-length values', () => {
    expect(constantTimeEqual('secret', 'secret')).toBe(true);
    expect(constantTimeEqual('secret', 'secreT')).toBe(false);
    expect(constantTimeEqual('secret', 'secret-longer')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
    const users = [{ username: 'telemetry_reader', password: 'pw', role: 'reader' as const }];
    expect(checkCredentials({ username: 'telemetry_reader', password: 'pw' }, users)).toEqual({ ok: true, username: 'telemetry_reader', role: 'reader' });
    expect(checkCredentials({ username: 'other', password: 'pw' }, users).ok).toBe(false);
    expect(checkCredentials({ username: 'telemetry_reader', password: 'p' }, users).ok).toBe(false);
  });
});
