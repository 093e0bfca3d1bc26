// Unit tests for the scrubber's shortcuts: the one-pass prefilter that lets most values skip every detector, and the
// email search that starts from each "@". fast-check: a value the prefilter calls clean holds nothing any detector
// finds; the shortcut finds the same emails as the one global regex it replaces; every generated PII item is found.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EVERY_DETECTOR, luhnValid, mayHoldPii, redact, replaceEmails, scrubShaped, scrubText, shapeOf } from '../src/sdk/privacy/scrub.js';
import { createScrubber } from '../src/sdk/privacy/scrubber.js';

const HOME = '/home/someone';
// The detectors with no shortcut at all: every regex over the whole text.
const everyDetector = (text: string) => scrubShaped(text, EVERY_DETECTOR, redact, HOME);

function withLuhn(partial: string): string {
  for (let d = 0; d < 10; d++) if (luhnValid(partial + d)) return partial + d;
  throw new Error('unreachable');
}
const card = fc
  .constantFrom(['4', 16], ['51', 16], ['34', 15], ['6011', 16], ['3528', 16])
  .chain(([prefix, length]) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: length - prefix.length - 1, maxLength: length - prefix.length - 1 }).map((d) => withLuhn(prefix + d.join(''))));
const phone = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 99 }), fc.integer({ min: 100, max: 999 }), fc.integer({ min: 100, max: 999 }), fc.integer({ min: 1000, max: 9999 })).map(([c, a, b, d]) => `+${c} ${a} ${b} ${d}`),
  fc.tuple(fc.integer({ min: 200, max: 999 }), fc.integer({ min: 200, max: 999 }), fc.integer({ min: 1000, max: 9999 })).map(([a, b, d]) => `(${a}) ${b}-${d}`),
  fc.tuple(fc.integer({ min: 200, max: 999 }), fc.integer({ min: 200, max: 999 }), fc.integer({ min: 1000, max: 9999 })).map(([a, b, d]) => `${a}-${b}-${d}`),
);
const token = fc.stringMatching(/^[A-Za-z0-9]{24,30}$/);
const secret = fc.oneof(
  token.map((t) => `sk_live_${t}`),
  token.map((t) => `ghp_${t}`),
  token.map((t) => `xoxb-${t}`),
  fc.stringMatching(/^[0-9A-Z]{16}$/).map((t) => `AKIA${t}`),
  fc.tuple(fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Token', 'Basic'), token).map(([s, t]) => `${s} ${t}`),
  fc.tuple(fc.constantFrom('api_key', 'password', 'PASSWORD', 'auth', 'client_secret', 'accessKey', 'pwd'), fc.constantFrom('=', ': ', '="'), token).map(([k, s, t]) => `${k}${s}${t}`),
);
// Values under 4 characters are never looked at: of PII only "::1"-like addresses are that short, and they name no one.
const ip = fc.oneof(fc.ipV4(), fc.ipV6().filter((v) => /\d/.test(v) && v.length >= 4));
const path = fc.tuple(fc.constantFrom('/home/', '/Users/', 'C:\\Users\\'), fc.stringMatching(/^[a-z]{2,10}$/)).map(([root, user]) => `${root}${user}`);
const pii = fc.oneof(fc.emailAddress(), card, phone, secret, ip, path);

// Text made of what detectors key on, so the prefilter's edges get exercised: keywords in any casing, digits, dots,
// separators, '@', ':' and slashes, next to ordinary words and numbers.
const keyword = fc.constantFrom('bearer', 'basic', 'token', 'key', 'secret', 'pass', 'pwd', 'auth', 'sk_', 'pk-', 'ghp_', 'github_pat_', 'xoxb-', 'AKIA', 'AIza', 'glpat-', 'eyJ', 'apikey', 'api-key', 'access_key');
const anyCase = (s: string) => fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }).map((up) => [...s].map((c, i) => (up[i] ? c.toUpperCase() : c.toLowerCase())).join(''));
const fragment = fc.oneof(
  keyword.chain(anyCase),
  fc.stringMatching(/^[A-Za-z]{1,12}$/),
  fc.stringMatching(/^[0-9]{1,14}$/),
  fc.constantFrom(' ', '=', ':', '.', '-', '_', '@', '/', '\\', '"', '\t', '(', ')', '+', ','),
  fc.stringMatching(/^[A-Za-z0-9._-]{16,40}$/),
  pii,
);
const tricky = fc.array(fragment, { maxLength: 10 }).map((parts) => parts.join(''));
// The same, with keywords only in the casings people write (the ones the keyword search looks for).
const writtenKeyword = keyword.chain((k) => fc.constantFrom(k, k.toUpperCase(), k[0]!.toUpperCase() + k.slice(1)));
const written = fc
  .array(fc.oneof(writtenKeyword, fc.stringMatching(/^[a-z]{1,12}$/), fc.stringMatching(/^[0-9]{1,14}$/), fc.constantFrom(' ', '=', ': ', '.', '-', '_', '@', '/'), pii), { maxLength: 10 })
  .map((parts) => parts.join(''));

describe('the prefilter that lets a value skip every detector', () => {
  it('calls a value clean only when no detector, run over the whole text, finds anything in it', () => {
    fc.assert(fc.property(fc.oneof(tricky, fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 })), (text) => mayHoldPii(text) || everyDetector(text) === text), { numRuns: 20_000, seed: 41 });
  });

  it('agrees with the full one-pass shape: a value it calls clean has no shape, so the scrubber returns it as is', () => {
    fc.assert(fc.property(tricky, (text) => mayHoldPii(text) || (shapeOf(text) === undefined && scrubText(text, redact, HOME) === text)), { numRuns: 10_000, seed: 42 });
  });

  it('loses nothing against every detector when keywords are written as people write them', () => {
    fc.assert(fc.property(written, (text) => scrubText(text, redact, HOME) === everyDetector(text)), { numRuns: 10_000, seed: 43 });
  });

  it('lets through every generated email, card, phone, key, address and home path, alone or in a sentence, and the scrubber replaces it', () => {
    const scrub = createScrubber('redact', { HOME });
    fc.assert(
      fc.property(pii, fc.stringMatching(/^[a-z]{1,10}$/), (item, word) => {
        const text = `${word} ${item} ${word}`;
        return mayHoldPii(item) && mayHoldPii(text) && scrub(text) !== text && scrub(text) === everyDetector(text);
      }),
      { numRuns: 5_000, seed: 44 },
    );
  });

  it('clears the values the bench tracks without a regex: short words, plain numbers, a sentence with no secret keyword', () => {
    for (const clean of ['pro', 'free', '12345', 'order o-123 shipped', 'order shipped', 'v1.2.3', '1234567890']) expect(mayHoldPii(clean), clean).toBe(false);
    for (const held of ['/checkout/step-1', 'mail ann@example.com', 'my token here', '4242424242424242', 'a.b.c.d', 'at 12:30']) expect(mayHoldPii(held), held).toBe(true);
  });
});

describe('emails found from each "@"', () => {
  // The definition the shortcut replaces: one global regex, bounded (64 for the local part, 63 a label).
  const EMAIL = /[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,10}[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9]/g;
  const byRegex = (text: string) => text.replace(EMAIL, () => '[email]');
  const near = fc
    .array(fc.oneof(fc.emailAddress(), fc.stringMatching(/^[a-z0-9.+-]{0,70}$/), fc.constantFrom('@', '@@', '.', '-', ' ', '..', 'a@b', 'x.y@z.co', '@example.com'), fc.stringMatching(/^[A-Za-z0-9-]{1,65}\.[a-z]{1,3}$/)), { maxLength: 8 })
    .map((parts) => parts.join(''));

  it('finds exactly what the one global regex finds', () => {
    fc.assert(fc.property(fc.oneof(near, fc.string({ maxLength: 60 })), (text) => replaceEmails(text, redact) === byRegex(text)), { numRuns: 20_000, seed: 45 });
  });

  it('keeps the 64-character bound on the local part and stays linear on a hostile value', () => {
    expect(replaceEmails(`${'a'.repeat(100)}@example.com`, redact)).toBe(`${'a'.repeat(36)}[email]`);
    expect(replaceEmails('a@b.cc.d@e.com and x@y', redact)).toBe('[email][email] and x@y');
    const hostile = `${'a'.repeat(50)}@`.repeat(20_000);
    const started = performance.now();
    expect(replaceEmails(hostile, redact)).toBe(hostile);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
