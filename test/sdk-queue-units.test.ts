import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EncodedQueue } from '../src/sdk/encoded-queue.js';
import { decodeEvent, encodeEvent } from '../src/sdk/event-record.js';
import { makeEvent, type Attributes, type TrackOptions } from '../src/sdk/event.js';

describe('the encoded queue (events waiting while the store is down)', () => {
  const identity = (text: string) => text;

  it('keeps at most its capacity, dropping the oldest, with encoded items and objects mixed in order', () => {
    const q = new EncodedQueue<string | { n: number }>(3, (text) => `decoded:${text}`);
    expect(q.push('a')).toBe(0);
    expect(q.push({ n: 1 })).toBe(0);
    expect(q.push('b')).toBe(0);
    expect(q.push('c')).toBe(1);
    expect(q.size).toBe(3);
    expect(q.take(10)).toEqual([{ n: 1 }, 'decoded:b', 'decoded:c']);
    expect(q.size).toBe(0);
  });

  it('counts room reserved for batches in flight: with none left, the new item is the one dropped', () => {
    const q = new EncodedQueue<string>(2, identity);
    expect(q.push('a', 1)).toBe(0);
    expect(q.push('b', 2)).toBe(2);
    expect(q.size).toBe(0);
  });

  it('holds items of any size, multi-byte text included, across many slabs, and gives each back intact', () => {
    const q = new EncodedQueue<string>(5_000, identity);
    const items = Array.from({ length: 20_000 }, (_, i) => (i % 997 === 0 ? `big ${i} ${'é✓'.repeat(60_000)}` : `item ${i} ✓ ${'x'.repeat(i % 300)}`));
    let dropped = 0;
    for (const item of items) dropped += q.push(item);
    expect(dropped).toBe(15_000);
    const kept = q.take(5_000);
    expect(kept).toEqual(items.slice(15_000));
  });

  it('takes in slices and goes on accepting after emptying (slabs are reused)', () => {
    const q = new EncodedQueue<string>(1_000, identity);
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 900; i++) q.push(`r${round}-${i}-${'y'.repeat(200)}`);
      const first = q.take(400);
      const rest = q.take(1_000);
      expect(first[0]).toBe(`r${round}-0-${'y'.repeat(200)}`);
      expect(rest.at(-1)).toBe(`r${round}-899-${'y'.repeat(200)}`);
      expect(first.length + rest.length).toBe(900);
    }
  });
});

describe("an event's compact form", () => {
  const value = fc.oneof(fc.string({ unit: 'binary' }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined));
  const attributes = fc.dictionary(fc.string().filter((k) => k !== '__proto__'), value, { maxKeys: 8 });
  const options = fc.record(
    {
      durationMs: fc.double({ min: 0, max: 1e9, noNaN: true }),
      status: fc.constantFrom('ok', 'error', 'OK', 'ERROR') as fc.Arbitrary<TrackOptions['status']>,
      statusMessage: fc.string(),
      timestamp: fc.integer({ min: 1, max: 4_000_000_000_000 }),
      traceId: fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: 32, maxLength: 32 }),
      projectName: fc.string({ minLength: 1 }),
    },
    { requiredKeys: [] },
  );

  it('decodes to exactly the queued event trackEvent would have built', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, unit: 'binary' }), attributes, options, (name, attrs, opts) => {
        const now = 1_764_151_200_000;
        const encoded = encodeEvent(name, attrs as Attributes, opts, now);
        expect(encoded).toBeTypeOf('string');
        expect(decodeEvent(encoded as string)).toEqual(makeEvent(name, attrs as Attributes, opts, now));
      }),
      { numRuns: 2_000, seed: 18 },
    );
  });

  it('leaves to the object way what it cannot hold as is (objects, arrays, bigints, NaN), and refuses what makeEvent refuses', () => {
    for (const odd of [{ nested: { a: 1 } }, { list: [1, 2] }, { big: 10n }, { nan: Number.NaN }, { when: new Date(0) }]) {
      expect(encodeEvent('e', odd as unknown as Attributes, {}, 0)).toBeUndefined();
    }
    expect(() => encodeEvent('', {}, {}, 0)).toThrow('event name must be a non-empty string');
    expect(() => encodeEvent('e', {}, { traceId: 'nope' }, 0)).toThrow('traceId must be 32 hex characters');
    expect(() => encodeEvent('e', {}, { durationMs: -1 }, 0)).toThrow('durationMs must be a number >= 0');
  });
});
