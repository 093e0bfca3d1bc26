import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeExport } from '../src/engine/embedded/otlp-intake.js';
import { decodeTraceRequest } from '../src/otlp/protobuf.js';
import { requestType } from '../src/otlp/types.js';
import { WireMismatch, WireReader, int64Text, nanosToMillis } from '../src/otlp/wire.js';
import { otlpToRows } from '../src/transform/otlp-to-rows.js';
import { toJsonEachRow } from '../src/transform/row.js';
import { traceRequestToRows } from '../src/transform/traces-wire.js';
import { logsRequestToRows } from '../src/transform/logs-wire.js';
import { logsToRows } from '../src/transform/logs.js';
import { decodeLogsRequest } from '../src/otlp/protobuf.js';
import { decodeTraceRequestJson } from '../src/otlp/json.js';
import { traceJsonToRows } from '../src/transform/traces-json.js';

/** A request as protobufjs's fromObject takes it (ids as bytes, 64-bit times as decimal strings). */
function encode(object: Record<string, unknown>): Buffer {
  const type = requestType('traces');
  return Buffer.from(type.encode(type.fromObject(object)).finish());
}

/** What the receiver stored before the fast path existed: the full decode and transform. */
function fullPath(body: Buffer): { lines: unknown[]; rejected: number } {
  const result = otlpToRows(decodeTraceRequest(body));
  return { lines: lines(toJsonEachRow(result.rows)), rejected: result.rejected.length };
}

const lines = (data: Buffer): unknown[] => data.toString('utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as unknown);

const hexBytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const nanos = fc.bigInt({ min: 1n, max: 2n ** 63n - 1n });
const text = fc.oneof(fc.string(), fc.constantFrom('project.name', '__proto__', 'service.name', 'é😀\u2028', ''));
const anyValue = fc.oneof(
  text.map((stringValue) => ({ stringValue })),
  fc.boolean().map((boolValue) => ({ boolValue })),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((v) => ({ intValue: v.toString() })),
  fc.double({ noNaN: false }).map((doubleValue) => ({ doubleValue })),
  fc.array(text, { maxLength: 3 }).map((values) => ({ arrayValue: { values: values.map((stringValue) => ({ stringValue })) } })),
  fc.constant({}),
);
const attributes = fc.array(fc.record({ key: text, value: anyValue }), { maxLength: 5 });
const span = fc.record({
  traceId: fc.oneof({ weight: 9, arbitrary: hexBytes(16) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 17 }) }),
  spanId: fc.oneof({ weight: 9, arbitrary: hexBytes(8) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 9 }) }),
  parentSpanId: fc.oneof(fc.constant(new Uint8Array(0)), hexBytes(8), fc.uint8Array({ maxLength: 3 })),
  name: text,
  kind: fc.integer({ min: 0, max: 7 }),
  startTimeUnixNano: fc.oneof({ weight: 9, arbitrary: nanos }, { weight: 1, arbitrary: fc.constant(0n) }),
  durationNanos: fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.constant(-5n), fc.constant(2n ** 62n)),
  attributes,
  status: fc.record({ code: fc.integer({ min: 0, max: 2 }), message: text }),
  events: fc.array(fc.record({ timeUnixNano: nanos, name: text, attributes }), { maxLength: 2 }),
  links: fc.array(fc.record({ traceId: hexBytes(16), spanId: fc.oneof(hexBytes(8), hexBytes(4)), attributes }), { maxLength: 2 }),
});
const request = fc.array(
  fc.record({ resource: fc.record({ attributes }), scopeSpans: fc.array(fc.record({ scope: fc.record({ name: text }), spans: fc.array(span, { maxLength: 4 }) }), { maxLength: 2 }) }),
  { maxLength: 3 },
);

function toObject(resourceSpans: unknown[]): Record<string, unknown> {
  return {
    resourceSpans: (resourceSpans as Array<{ scopeSpans: Array<{ spans: Array<Record<string, unknown>> }> }>).map((rs) => ({
      ...rs,
      scopeSpans: rs.scopeSpans.map((ss) => ({
        ...ss,
        spans: ss.spans.map(({ durationNanos, startTimeUnixNano, ...s }) => {
          const start = startTimeUnixNano as bigint;
          const end = start + (durationNanos as bigint);
          return {
            ...s,
            startTimeUnixNano: start.toString(),
            endTimeUnixNano: (end < 0n ? 0n : end > 2n ** 64n - 1n ? 2n ** 64n - 1n : end).toString(),
            events: (s.events as Array<{ timeUnixNano: bigint }>).map((e) => ({ ...e, timeUnixNano: e.timeUnixNano.toString() })),
          };
        }),
      })),
    })),
  };
}

describe('the receiver takes protobuf trace requests straight to rows', () => {
  it('writes attribute keys that are array indices first, in numeric order, as the full path does', () => {
    // Found by the property below with a random seed: a key "0" after a key "" (JavaScript objects put index keys first).
    const body = encode({
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] },
        scopeSpans: [{ spans: [{
          traceId: Uint8Array.from({ length: 16 }, (_, i) => i + 1), spanId: Uint8Array.from({ length: 8 }, (_, i) => i + 1), name: 'op',
          startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000005000000',
          attributes: [{ key: '', value: {} }, { key: '10', value: { boolValue: false } }, { key: 'b', value: { stringValue: 'x' } }, { key: '2', value: { intValue: '7' } }, { key: '01', value: { stringValue: 'not an index' } }],
        }] }],
      }],
    });
    const direct = traceRequestToRows(body);
    expect(direct.data.equals(toJsonEachRow(otlpToRows(decodeTraceRequest(body)).rows))).toBe(true);
    expect(Object.keys((JSON.parse(direct.data.toString()) as { attributes: Record<string, string> }).attributes)).toEqual(['2', '10', '', 'b', '01']);
    expect(direct.data.toString()).toContain('"attributes":{"2":"7","10":"false","":"","b":"x","01":"not an index"}');
  });

  it('stores exactly what the full decode stores, and refuses exactly what it refuses, for any request', () => {
    let fast = 0;
    fc.assert(
      fc.property(request, (resourceSpans) => {
        const body = encode(toObject(resourceSpans));
        const expected = fullPath(body);
        const decoded = decodeExport('traces', body, 'protobuf');
        expect(lines(decoded.data)).toEqual(expected.lines);
        expect(decoded.rows).toBe(expected.lines.length);
        expect(decoded.rejected.length).toBe(expected.rejected);
        try {
          const direct = traceRequestToRows(body);
          fast++;
          expect(expected.rejected).toBe(0);
          expect(direct.data.equals(toJsonEachRow(otlpToRows(decodeTraceRequest(body)).rows))).toBe(true);
        } catch (error) {
          if (!(error instanceof WireMismatch)) throw error;
        }
      }),
      { numRuns: 400 },
    );
    // The fast path itself was exercised, not only the fallback.
    expect(fast).toBeGreaterThan(40);
  });

  it('writes the rows itself for what exporters send: scalar attributes, events and links', () => {
    const body = encode({
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }, { key: 'host.name', value: { stringValue: 'h1' } }] },
        scopeSpans: [{
          spans: [{
            traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 2), name: 'GET /cart', kind: 2,
            startTimeUnixNano: '1764115200123456789', endTimeUnixNano: '1764115200126456789',
            attributes: [{ key: 'http.status_code', value: { intValue: '200' } }, { key: 'host.name', value: { stringValue: 'own' } }, { key: 'ok', value: { boolValue: true } }],
            events: [{ timeUnixNano: '1764115200124000001', name: 'exception', attributes: [{ key: 'exception.type', value: { stringValue: 'Error' } }] }],
            links: [{ traceId: Buffer.alloc(16, 3), spanId: Buffer.alloc(8, 4) }],
            status: { code: 2, message: 'boom' },
          }],
        }],
      }],
    });
    const fast = traceRequestToRows(body);
    expect(fast.rows).toBe(1);
    expect(lines(fast.data)).toEqual([
      {
        trace_id: '01'.repeat(16), span_id: '02'.repeat(8), parent_span_id: '', timestamp: '2025-11-26 00:00:00.123', service_name: 'checkout',
        span_name: 'GET /cart', span_kind: 'SERVER', status_code: 'ERROR', status_message: 'boom', duration_ms: 3, project_name: 'checkout',
        project_version: '', environment: '', attributes: { 'host.name': 'own', 'http.status_code': '200', ok: 'true' },
        'events.timestamp': ['2025-11-26 00:00:00.124000001'], 'events.name': ['exception'], 'events.attributes': [{ 'exception.type': 'Error' }],
        'links.trace_id': ['03'.repeat(16)], 'links.span_id': ['04'.repeat(8)], 'links.attributes': [{}],
      },
    ]);
  });

  it('leaves a bad span, an array attribute or broken bytes to the full path, which names the problem', () => {
    const bad = encode({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 2), name: 'no start' }] }] }] });
    expect(() => traceRequestToRows(bad)).toThrow(WireMismatch);
    expect(decodeExport('traces', bad, 'protobuf').rejected).toEqual([{ index: 0, name: 'no start', reason: 'start_time_unix_nano is missing' }]);

    const array = encode({
      resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 2), startTimeUnixNano: '1', attributes: [{ key: 'tags', value: { arrayValue: { values: [{ stringValue: 'a' }] } } }] }] }] }],
    });
    expect(() => traceRequestToRows(array)).toThrow(WireMismatch);
    expect(lines(decodeExport('traces', array, 'protobuf').data)).toMatchObject([{ attributes: { tags: '["a"]' } }]);

    const truncated = bad.subarray(0, bad.length - 3);
    expect(() => traceRequestToRows(truncated)).toThrow(WireMismatch);
    expect(() => decodeExport('traces', truncated, 'protobuf')).toThrow(/not a valid protobuf ExportTraceServiceRequest/);
  });
});

const logRecord = fc.record({
  timeUnixNano: fc.oneof(nanos, fc.constant(0n), fc.constant(2n ** 63n)),
  observedTimeUnixNano: fc.oneof(nanos, fc.constant(0n)),
  severityNumber: fc.oneof(fc.integer({ min: 0, max: 24 }), fc.constant(25)),
  severityText: fc.oneof(fc.constant(''), text),
  body: anyValue,
  attributes,
  traceId: fc.oneof(fc.constant(new Uint8Array(0)), hexBytes(16), fc.constant(new Uint8Array(16)), hexBytes(5)),
  spanId: fc.oneof(fc.constant(new Uint8Array(0)), hexBytes(8), fc.constant(new Uint8Array(8))),
  eventName: fc.oneof(fc.constant(''), text),
});
const logsRequest = fc.array(
  fc.record({ resource: fc.record({ attributes }), scopeLogs: fc.array(fc.record({ scope: fc.record({ name: text }), logRecords: fc.array(logRecord, { maxLength: 4 }) }), { maxLength: 2 }) }),
  { maxLength: 3 },
);

/** The OTLP/JSON form of a generated request, as exporters write it (hex ids, 64-bit values as decimal strings). */
function toJson(resourceSpans: unknown[]): string {
  const object = toObject(resourceSpans);
  const hex = (b: unknown) => Buffer.from(b as Uint8Array).toString('hex');
  return JSON.stringify(object, (key, value: unknown) => {
    if ((key === 'traceId' || key === 'spanId' || key === 'parentSpanId') && value instanceof Uint8Array) return hex(value);
    if (key === 'doubleValue' && typeof value === 'number' && !Number.isFinite(value)) return String(value);
    return value;
  });
}

describe('the receiver takes OTLP/JSON trace requests straight to rows', () => {
  it('stores exactly what the full JSON reader stores for any request, and leaves the rest to it', () => {
    let fast = 0;
    fc.assert(
      fc.property(request, (resourceSpans) => {
        const text = toJson(resourceSpans);
        let expected: { lines: unknown[]; rejected: number; data: Buffer };
        try {
          const result = otlpToRows(decodeTraceRequestJson(text));
          const data = toJsonEachRow(result.rows);
          expected = { lines: lines(data), rejected: result.rejected.length, data };
        } catch {
          expect(() => traceJsonToRows(text)).toThrow(WireMismatch);
          return;
        }
        try {
          const direct = traceJsonToRows(text);
          fast++;
          expect(expected.rejected).toBe(0);
          expect(direct.data.equals(expected.data)).toBe(true);
        } catch (error) {
          if (!(error instanceof WireMismatch)) throw error;
        }
        const decoded = decodeExport('traces', Buffer.from(text), 'json');
        expect(lines(decoded.data)).toEqual(expected.lines);
        expect(decoded.rejected.length).toBe(expected.rejected);
      }),
      { numRuns: 400 },
    );
    expect(fast).toBeGreaterThan(40);
  });

  it('leaves snake_case keys, numbers for times and misspelt fields to the full reader, which answers as before', () => {
    const span = { traceId: '01'.repeat(16), spanId: '02'.repeat(8), name: 'n', startTimeUnixNano: '1764115200123456789' };
    const good = JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] });
    expect(traceJsonToRows(good).rows).toBe(1);
    for (const variant of [
      { resource_spans: [{ scope_spans: [{ spans: [span] }] }] },
      { resourceSpans: [{ scopeSpans: [{ spans: [{ ...span, startTimeUnixNano: 1764115200123456789 }] }] }] },
      { resourceSpans: [{ scopeSpans: [{ spans: [{ ...span, kind: 'SPAN_KIND_SERVER' }] }] }] },
    ]) {
      const text = JSON.stringify(variant);
      expect(() => traceJsonToRows(text)).toThrow(WireMismatch);
      expect(decodeExport('traces', Buffer.from(text), 'json').rows).toBe(1);
    }
    const misspelt = JSON.stringify({ resourceSpan: [{ scopeSpans: [{ spans: [span] }] }] });
    expect(() => decodeExport('traces', Buffer.from(misspelt), 'json')).toThrow(/resourceSpan/);
    const badId = JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ ...span, traceId: 'xyz' }] }] }] });
    expect(() => decodeExport('traces', Buffer.from(badId), 'json')).toThrow(/traceId/);
  });
});

describe('the receiver takes protobuf log requests straight to rows', () => {
  it('stores exactly what the full decode stores for any request, and leaves what it would refuse to it', () => {
    const now = 1_764_115_200_123;
    let fast = 0;
    fc.assert(
      fc.property(logsRequest, (resourceLogs) => {
        const object = {
          resourceLogs: resourceLogs.map((rl) => ({
            ...rl,
            scopeLogs: rl.scopeLogs.map((sl) => ({
              ...sl,
              logRecords: sl.logRecords.map((r) => ({ ...r, timeUnixNano: r.timeUnixNano.toString(), observedTimeUnixNano: r.observedTimeUnixNano.toString() })),
            })),
          })),
        };
        const type = requestType('logs');
        const body = Buffer.from(type.encode(type.fromObject(object)).finish());
        const full = logsToRows(decodeLogsRequest(body), () => BigInt(now) * 1_000_000n);
        try {
          const direct = logsRequestToRows(body, () => now);
          fast++;
          expect(full.rejected).toEqual([]);
          expect(direct.data.equals(toJsonEachRow(full.rows))).toBe(true);
        } catch (error) {
          if (!(error instanceof WireMismatch)) throw error;
        }
        const decoded = decodeExport('logs', body, 'protobuf');
        expect(decoded.rows + decoded.rejected.length).toBe(full.rows.length + full.rejected.length);
        expect(decoded.rejected).toEqual(full.rejected);
      }),
      { numRuns: 400 },
    );
    expect(fast).toBeGreaterThan(40);
  });
});

describe('a hostile request on the fast path', () => {
  it('a span with 100,000 attributes (many repeated, some over the resource\'s) is stored as the full path stores it (positions by key, not a search per attribute)', { timeout: 20_000 }, () => {
    const resourceAttrs = Array.from({ length: 20 }, (_, i) => ({ key: `r${i}`, value: { stringValue: `resource ${i}` } }));
    const own = Array.from({ length: 100_000 }, (_, i) => ({ key: i % 3 === 0 ? `r${i % 40}` : `k${i % 50_000}`, value: { intValue: String(i) } }));
    const body = encode({
      resourceSpans: [{ resource: { attributes: resourceAttrs }, scopeSpans: [{ spans: [{ traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 2), startTimeUnixNano: '1', attributes: own }] }] }],
    });
    const fast = traceRequestToRows(body);
    expect(fast.data.equals(toJsonEachRow(otlpToRows(decodeTraceRequest(body)).rows))).toBe(true);
    const attributes = (lines(fast.data)[0] as { attributes: Record<string, string> }).attributes;
    expect(Object.keys(attributes)).toHaveLength(20 + 20 + 50_000);
    expect(attributes.r0).toBe('99960');
  });
});

describe('the wire reader', () => {
  it('reads 64-bit values exactly: signed ints, and nanoseconds to whole milliseconds', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (n) => {
        const u = BigInt.asUintN(64, n);
        expect(int64Text(Number(u & 0xffffffffn), Number(u >> 32n))).toBe(n.toString());
        if (n >= 0n) expect(nanosToMillis(Number(u & 0xffffffffn), Number(u >> 32n))).toBe(Number(n / 1_000_000n));
      }),
    );
    const reader = new WireReader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 0, 10);
    reader.varint64();
    expect(int64Text(reader.lo, reader.hi)).toBe('-1');
  });
});
