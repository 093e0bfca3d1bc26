import fc from 'fast-check';
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { EventLineError, parseEventLine } from '../src/sdk/event-line.js';
import { EventRowWriter } from '../src/sdk/event-row.js';
import { buildRequest, makeEvent, spanOf } from '../src/sdk/event.js';
import { InsertPipeline, type Outcome } from '../src/sdk/insert-pipeline.js';
import { createScrubber } from '../src/sdk/privacy/scrubber.js';
import { otlpToRows } from '../src/transform/otlp-to-rows.js';

const resource = { projectName: 'cli', version: '1.2.0', environment: 'prod', serviceName: 'checkout' };

describe("send --stdin's row path", () => {
  const scrub = createScrubber('redact', { HOME: '/home/me' });
  const writer = new EventRowWriter({ resource, scrub });
  const sdkRow = (line: string) => {
    const parsed = parseEventLine(line);
    const event = makeEvent(parsed.name, parsed.attributes, parsed.options);
    spanOf(event, scrub);
    return JSON.parse(JSON.stringify(otlpToRows(buildRequest([event], resource, '0.0.0')).rows[0])) as Record<string, unknown>;
  };
  const withoutIds = (row: Record<string, unknown>, keepTrace: boolean) => {
    const { span_id: _span, trace_id: traceId, ...rest } = row;
    return keepTrace ? { ...rest, trace_id: traceId } : rest;
  };

  it('writes for every line the row the SDK span path stores (ids aside), scrubbing included', () => {
    const attribute = fc.oneof(fc.string({ unit: 'binary' }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.emailAddress());
    const line = fc.record(
      {
        event: fc.string({ minLength: 1, unit: 'binary' }),
        attributes: fc.dictionary(fc.string({ unit: 'binary' }).filter((k) => k !== '__proto__'), attribute, { maxKeys: 6 }),
        status: fc.constantFrom('ok', 'error', 'OK', 'Error'),
        duration_ms: fc.double({ min: 0, max: 1e8, noNaN: true }),
        timestamp: fc.oneof(fc.integer({ min: 1, max: 9_000_000_000_000 }), fc.date({ min: new Date(1), max: new Date(9e12), noInvalidDate: true }).map((d) => d.toISOString())),
        project: fc.constantFrom('cli', 'web', 'jobs'),
        trace_id: fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: 32, maxLength: 32 }).filter((t) => !/^0+$/.test(t)),
      },
      { requiredKeys: ['event'] },
    );
    fc.assert(
      fc.property(line.filter((l) => l.timestamp !== undefined), (l) => {
        const text = JSON.stringify(l);
        const mine = JSON.parse(writer.row(parseEventLine(text))) as Record<string, unknown>;
        const theirs = sdkRow(text);
        expect(withoutIds(mine, l.trace_id !== undefined)).toEqual(withoutIds(theirs, l.trace_id !== undefined));
        expect(mine.span_id).toMatch(/^[0-9a-f]{16}$/);
        expect(mine.trace_id).toMatch(/^[0-9a-f]{32}$/);
      }),
      { numRuns: 1_500, seed: 20 },
    );
  });

  it('refuses, by line, what the store would refuse inside a batch: a zero trace id, a time it cannot hold', () => {
    const row = (line: object) => () => writer.row(parseEventLine(JSON.stringify(line)));
    expect(row({ event: 'e', trace_id: '0'.repeat(32) })).toThrow(new EventLineError('"trace_id" must not be all zeros'));
    expect(row({ event: 'e', timestamp: 0 })).toThrow('"timestamp" must fall between 1970 and 2262, got 0');
    expect(row({ event: 'e', timestamp: 1e20 })).toThrow('"timestamp" must fall between 1970 and 2262, got 100000000000000000000');
    expect(row({ event: 'e', timestamp: '1969-12-31T00:00:00Z' })).toThrow('"timestamp" must fall between 1970 and 2262');
  });
});

describe('the insert pipeline', () => {
  /** A server answering each request with what `answer` says for it, counting them. */
  async function server(answer: (n: number) => number) {
    let n = 0;
    const s = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(answer(n++)).end('x'));
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(s.address() as { port: number }).port}/`;
    return { url, requests: () => n, close: () => new Promise((r) => s.close(r)) };
  }
  const read = (answer: { status: number }): Outcome =>
    answer.status === 200 ? { kind: 'stored', refused: 0, message: '' } : answer.status >= 500 ? { kind: 'unknown', message: `HTTP ${answer.status}` } : { kind: 'refused', message: `HTTP ${answer.status}` };

  it('retries an unknown outcome until the store answers, and counts the rows once', async () => {
    const store = await server((n) => (n < 3 ? 503 : 200));
    try {
      const pipeline = new InsertPipeline({ request: () => ({ url: store.url, headers: {} }), read }, { maxInFlight: 2, timeoutMs: 2_000, waitForStoreMs: 10_000 });
      await pipeline.push(Buffer.from('rows'), 7);
      expect(await pipeline.finish()).toEqual({ sent: 7, failed: 0, unconfirmed: 0, errors: [] });
      expect(store.requests()).toBe(4);
    } finally {
      await store.close();
    }
  });

  it('counts as failed only what the store refused, and as unconfirmed what it never answered for in time', async () => {
    const refusing = await server(() => 400);
    const down = await server(() => 503);
    try {
      const refused = new InsertPipeline({ request: () => ({ url: refusing.url, headers: {} }), read }, { maxInFlight: 2, timeoutMs: 2_000, waitForStoreMs: 10_000 });
      await refused.push(Buffer.from('rows'), 5);
      expect(await refused.finish()).toMatchObject({ sent: 0, failed: 5, unconfirmed: 0 });
      expect(refusing.requests()).toBe(1);
      const unanswered = new InsertPipeline({ request: () => ({ url: down.url, headers: {} }), read }, { maxInFlight: 2, timeoutMs: 2_000, waitForStoreMs: 600 });
      await unanswered.push(Buffer.from('a'), 3);
      await unanswered.push(Buffer.from('b'), 4);
      expect(await unanswered.finish()).toMatchObject({ sent: 0, failed: 0, unconfirmed: 7 });
      expect(unanswered.gaveUp).toBe(true);
      expect(down.requests()).toBeGreaterThan(2);
    } finally {
      await refusing.close();
      await down.close();
    }
  });
});
