import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { encodeLogsRequest, encodeMetricsRequest, encodeTraceRequest } from '../src/otlp/protobuf.js';
import { grpcExportPath, type Signal } from '../src/otlp/types.js';
import { parseEventLine } from '../src/sdk/event-line.js';
import { cli } from './helpers/cli.js';
import { startStack, type RunningStack } from './helpers/stack.js';

/** One seed for every property here; printed so that a failure can be replayed. */
const SEED = Number(process.env.FUZZ_SEED ?? 20261126);
const RUNS = 1000;
console.log(`fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})`);

let stack: RunningStack;
let auth: string;
beforeAll(async () => {
  stack = await startStack();
  auth = stack.auth('admin');
});
afterAll(() => stack.stop());

const deep = (depth: number): unknown => (depth === 0 ? 'x' : { a: [deep(depth - 1)] });

/** JSON lines that must be rejected: not JSON, wrong shapes, wrong types, huge or deeply nested values. */
const badLine = fc.oneof(
  fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\n') && s.trim() !== '' && !isValidLine(s)),
  fc.constantFrom('{', '[]', 'null', '42', '"event"', '{"event":', '{"event": ""}', '{"event": null}'),
  fc.record({ event: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string())) }).map((o) => JSON.stringify(o)),
  fc.record({ event: fc.constant('e'), duration_ms: fc.oneof(fc.string(), fc.constant(-1), fc.boolean()) }).map((o) => JSON.stringify(o)),
  fc.record({ event: fc.constant('e'), status: fc.string().filter((s) => !/^(ok|error)$/i.test(s)) }).map((o) => JSON.stringify(o)),
  fc.record({ event: fc.constant('e'), attributes: fc.oneof(fc.array(fc.integer()), fc.constant('flat'), fc.constant({ nested: { x: 1 } })) }).map((o) => JSON.stringify(o)),
  fc.record({ event: fc.constant('e'), timestamp: fc.constantFrom('yesterday', 'soon', true, {}) }).map((o) => JSON.stringify(o)),
  fc.record({ event: fc.constant('e'), trace_id: fc.string().filter((s) => !/^[0-9a-fA-F]{32}$/.test(s)) }).map((o) => JSON.stringify(o)),
  fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !['event', 'attributes', 'status', 'duration_ms', 'timestamp', 'project', 'trace_id'].includes(k)).map((k) => JSON.stringify({ event: 'e', [k]: 1 })),
  fc.constant(JSON.stringify({ event: 'e', attributes: deep(50) })),
  fc.constant(`{"event": "${'x'.repeat(1_100_000)}"}`),
);

function isValidLine(line: string): boolean {
  try {
    parseEventLine(line);
    return true;
  } catch {
    return false;
  }
}

describe('fuzzing send --stdin lines', () => {
  it(`rejects ${RUNS} generated bad lines by number and still stores every good line`, async () => {
    const bad = fc.sample(badLine, { numRuns: RUNS, seed: SEED });
    const lines: string[] = [];
    const badAt = new Set<number>();
    bad.forEach((line, i) => {
      lines.push(line);
      badAt.add(lines.length);
      if (i % 5 === 0) lines.push(JSON.stringify({ event: 'fuzz.good', attributes: { n: i } }));
    });
    const good = lines.length - badAt.size;
    const result = await cli(['send', '--stdin', '--project', 'fuzz-lines', '--backend', 'clickhouse', '--json'], stack.home.env, `${lines.join('\n')}\n`);
    const summary = JSON.parse(result.stdout) as { read: number; sent: number; rejected: number; failed: number };
    expect(summary, `seed ${SEED}`).toMatchObject({ read: lines.length, rejected: RUNS, sent: good, failed: 0 });
    const reported = result.stderr.split('\n').filter((l) => /^line \d+: /.test(l)).map((l) => Number(/^line (\d+)/.exec(l)?.[1]));
    expect(reported.length).toBe(100); // the first hundred are named one by one…
    for (const n of reported) expect(badAt.has(n), `line ${n} (seed ${SEED})`).toBe(true);
    expect(result.stderr).toContain(`… and ${RUNS - 100} more rejected lines`);
    const [stored] = await stack.rows<{ n: number }>("SELECT count() AS n FROM traces WHERE project_name = 'fuzz-lines'");
    expect(stored?.n).toBe(good);
  });
});

const validRequest = (n: number) =>
  encodeTraceRequest({
    resourceSpans: [
      {
        resource: { 'service.name': 'fuzz', 'project.name': 'fuzz-otlp' },
        scopeSpans: [
          {
            scopeName: 'fuzz',
            scopeVersion: '1',
            spans: [
              {
                traceId: Buffer.from(n.toString(16).padStart(32, '1'), 'hex'),
                spanId: Buffer.from(n.toString(16).padStart(16, '2'), 'hex'),
                parentSpanId: new Uint8Array(),
                name: `valid-${n}`,
                kind: 1,
                startTimeUnixNano: BigInt(Date.now() - 60_000) * 1_000_000n,
                endTimeUnixNano: BigInt(Date.now() - 59_000) * 1_000_000n,
                attributes: {},
                status: { code: 0, message: '' },
              },
            ],
          },
        ],
      },
    ],
  });

describe('fuzzing the OTLP receiver', () => {
  it(`answers ${RUNS} malformed bodies with a clear status, stays up, and stores the valid requests sent alongside`, async () => {
    const base = Buffer.from(validRequest(0));
    const body = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => ({ bytes: Buffer.from(b), type: 'application/x-protobuf', gzip: false })),
      fc.integer({ min: 1, max: base.length - 1 }).map((cut) => ({ bytes: base.subarray(0, cut), type: 'application/x-protobuf', gzip: false })),
      fc.json().map((j) => ({ bytes: Buffer.from(j), type: 'application/json', gzip: false })),
      fc.string().map((s) => ({ bytes: Buffer.from(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":${JSON.stringify(s)},"startTimeUnixNano":${JSON.stringify(s)}}]}]}]}`), type: 'application/json', gzip: false })),
      fc.uint8Array({ minLength: 1, maxLength: 100 }).map((b) => ({ bytes: Buffer.from(b), type: 'application/json', gzip: true })),
      fc.constant({ bytes: Buffer.from([0xff, 0xfe, 0xfd, 0x7b]), type: 'application/json', gzip: false }),
      fc.constant({ bytes: Buffer.from(JSON.stringify(deep(200))), type: 'application/json', gzip: false }),
    );
    const samples = fc.sample(body, { numRuns: RUNS, seed: SEED });
    const statuses = new Map<number, number>();
    let valid = 0;
    for (const [i, s] of samples.entries()) {
      const res = await fetch(stack.vars.AUTOMAGIK_TELEMETRY_ENDPOINT ?? '', {
        method: 'POST',
        body: s.gzip ? s.bytes : s.bytes,
        headers: { Authorization: auth, 'Content-Type': s.type, ...(s.gzip ? { 'Content-Encoding': 'gzip' } : {}) },
      });
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect([200, 400], `sample ${i} (seed ${SEED}) answered ${res.status}`).toContain(res.status);
      if (i % 10 === 0) {
        const ok = await fetch(stack.vars.AUTOMAGIK_TELEMETRY_ENDPOINT ?? '', {
          method: 'POST',
          body: gzipSync(validRequest(i + 1)),
          headers: { Authorization: auth, 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'gzip' },
        });
        await ok.arrayBuffer();
        expect(ok.status).toBe(200);
        valid++;
      }
    }
    expect(statuses.get(400) ?? 0).toBeGreaterThan(RUNS / 2);
    const [stored] = await stack.rows<{ n: number }>("SELECT count() AS n FROM traces WHERE project_name = 'fuzz-otlp' AND startsWith(span_name, 'valid-')");
    expect(stored?.n).toBe(valid);
  });
});

const validLogs = (n: number) =>
  encodeLogsRequest({
    resourceLogs: [
      {
        resource: { 'service.name': 'fuzz', 'project.name': 'fuzz-signals' },
        scopeLogs: [{ scopeName: 'fuzz', scopeVersion: '', logRecords: [{ timeUnixNano: BigInt(Date.now() - 60_000) * 1_000_000n + BigInt(n), observedTimeUnixNano: 0n, severityNumber: 9, severityText: '', body: `valid-${n}`, attributes: {}, traceId: new Uint8Array(), spanId: new Uint8Array(), eventName: '' }] }],
      },
    ],
  });

const validMetrics = (n: number) =>
  encodeMetricsRequest({
    resourceMetrics: [
      {
        resource: { 'service.name': 'fuzz', 'project.name': 'fuzz-signals' },
        scopeMetrics: [{ scopeName: 'fuzz', scopeVersion: '', metrics: [{ name: `valid-${n}`, description: '', unit: '', type: 'gauge', isMonotonic: false, temporality: 0, points: [{ attributes: {}, startTimeUnixNano: 0n, timeUnixNano: BigInt(Date.now() - 60_000) * 1_000_000n, value: n, flags: 0 }] }] }],
      },
    ],
  });

/** JSON bodies shaped like a request of the signal, with arbitrary values where the fields are. */
function shapedJson(signal: 'logs' | 'metrics') {
  const v = fc.oneof(fc.anything(), fc.double(), fc.bigInt().map(String), fc.string(), fc.constantFrom('NaN', 'Infinity', '-1', '18446744073709551616'));
  if (signal === 'logs') {
    return fc.record({ timeUnixNano: v, severityNumber: v, severityText: v, body: fc.oneof(v, fc.record({ stringValue: v }), fc.record({ kvlistValue: v })), traceId: v, attributes: v }, { requiredKeys: [] }).map((record) =>
      JSON.stringify({ resource_logs: [{ scope_logs: [{ log_records: [record] }] }] }),
    );
  }
  const point = fc.record({ timeUnixNano: v, asDouble: v, asInt: v, count: v, sum: v, bucketCounts: v, explicitBounds: v, quantileValues: v, positive: v, scale: v }, { requiredKeys: [] });
  return fc
    .tuple(fc.constantFrom('gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'), point, fc.oneof(fc.string(), v))
    .map(([kind, p, name]) => JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name, [kind]: { dataPoints: [p], aggregationTemporality: 2 } }] }] }] }));
}

describe('fuzzing the logs and metrics receivers, over HTTP and gRPC', () => {
  const grpcCall = (signal: Signal, body: Buffer): Promise<grpc.status> => {
    const client = new grpc.Client(`127.0.0.1:${stack.home.env.AUTOMAGIK_TELEMETRY_OTLP_GRPC_PORT}`, grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    md.set('authorization', auth);
    return new Promise<grpc.status>((resolve) => {
      client.makeUnaryRequest(grpcExportPath(signal), (b: Buffer) => b, (b: Buffer) => b, body, md, (error) => resolve(error ? error.code : grpc.status.OK));
    }).finally(() => client.close());
  };

  it.each(['logs', 'metrics'] as const)(`answers ${RUNS} malformed %s bodies with 200 or 400 (gRPC: OK or INVALID_ARGUMENT), stays up, and stores the valid requests sent alongside`, async (signal) => {
    const valid = signal === 'logs' ? validLogs : validMetrics;
    const base = Buffer.from(valid(0));
    const body = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => ({ bytes: Buffer.from(b), type: 'application/x-protobuf' })),
      fc.integer({ min: 1, max: base.length - 1 }).map((cut) => ({ bytes: base.subarray(0, cut), type: 'application/x-protobuf' })),
      fc.json().map((j) => ({ bytes: Buffer.from(j), type: 'application/json' })),
      shapedJson(signal).map((j) => ({ bytes: Buffer.from(j), type: 'application/json' })),
      shapedJson(signal).map((j) => ({ bytes: Buffer.from(j), type: 'application/json' })),
    );
    const samples = fc.sample(body, { numRuns: RUNS, seed: SEED });
    const url = `${stack.vars.OTEL_EXPORTER_OTLP_ENDPOINT ?? ''}/v1/${signal}`;
    let validSent = 0;
    for (const [i, s] of samples.entries()) {
      if (s.type === 'application/x-protobuf' && i % 2 === 0) {
        const code = await grpcCall(signal, s.bytes);
        expect([grpc.status.OK, grpc.status.INVALID_ARGUMENT], `sample ${i} (seed ${SEED}) over gRPC answered ${grpc.status[code]}`).toContain(code);
      } else {
        const res = await fetch(url, { method: 'POST', body: s.bytes, headers: { Authorization: auth, 'Content-Type': s.type } });
        const text = await res.text();
        expect([200, 400], `sample ${i} (seed ${SEED}) answered ${res.status}: ${text.slice(0, 200)} for ${s.bytes.toString('utf8').slice(0, 200)}`).toContain(res.status);
      }
      if (i % 10 === 0) {
        const n = i + 1;
        const code = n % 20 === 1 ? await grpcCall(signal, Buffer.from(valid(n))) : (await fetch(url, { method: 'POST', body: gzipSync(valid(n)), headers: { Authorization: auth, 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'gzip' } })).status === 200 ? grpc.status.OK : -1;
        expect(code).toBe(grpc.status.OK);
        validSent++;
      }
    }
    const table = signal === 'logs' ? "logs WHERE project_name = 'fuzz-signals' AND startsWith(body, 'valid-')" : "metrics WHERE project_name = 'fuzz-signals' AND startsWith(metric_name, 'valid-')";
    const [stored] = await stack.rows<{ n: number }>(`SELECT count() AS n FROM ${table}`);
    expect(stored?.n).toBe(validSent);
  });
});

describe('fuzzing the ClickHouse HTTP endpoint', () => {
  it(`answers ${RUNS} garbage queries, bad gzip and bad UTF-8 with ClickHouse errors, stays up, and keeps valid inserts`, async () => {
    const ch = stack.vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT ?? '';
    const body = fc.oneof(
      fc.string({ minLength: 1, maxLength: 200 }).map((s) => ({ url: '/', bytes: Buffer.from(`SELEC ${s}`), gzip: false })),
      fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => ({ url: '/', bytes: Buffer.from(b), gzip: true })),
      fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => ({ url: '/', bytes: Buffer.concat([Buffer.from('SELECT '), Buffer.from(b)]), gzip: false })),
      fc.json().map((j) => ({ url: `/?query=${encodeURIComponent('INSERT INTO telemetry.traces FORMAT JSONEachRow')}`, bytes: Buffer.from(`${j}\n{"trace_id": [}`), gzip: false })),
      fc.string({ maxLength: 50 }).map((s) => ({ url: `/?param_x=${encodeURIComponent(s)}`, bytes: Buffer.from('SELECT {x:UInt8}'), gzip: false })),
    );
    const samples = fc.sample(body, { numRuns: RUNS, seed: SEED });
    let valid = 0;
    for (const [i, s] of samples.entries()) {
      const res = await fetch(`${ch}${s.url}`, { method: 'POST', body: s.bytes, headers: { Authorization: auth, ...(s.gzip ? { 'Content-Encoding': 'gzip' } : {}) } });
      const text = await res.text();
      if (res.status !== 200) {
        expect(res.status, `sample ${i} (seed ${SEED})`).toBeGreaterThanOrEqual(400);
        expect(text, `sample ${i} (seed ${SEED})`).toMatch(/^Code: \d+\. DB::Exception: /);
        expect(res.headers.get('x-clickhouse-exception-code')).toMatch(/^\d+$/);
      }
      if (i % 10 === 0) {
        const ok = await fetch(`${ch}/?query=${encodeURIComponent('INSERT INTO telemetry.traces (trace_id, span_id, timestamp, project_name) FORMAT JSONEachRow')}`, {
          method: 'POST',
          body: JSON.stringify({ trace_id: `t${i}`, span_id: `s${i}`, timestamp: new Date().toISOString().replace('T', ' ').replace('Z', ''), project_name: 'fuzz-ch' }),
          headers: { Authorization: auth },
        });
        expect(ok.status, await ok.text()).toBe(200);
        valid++;
      }
    }
    const [stored] = await stack.rows<{ n: number }>("SELECT count() AS n FROM traces WHERE project_name = 'fuzz-ch'");
    expect(stored?.n).toBe(valid);
    expect((await fetch(`${ch}/ping`)).status).toBe(200);
  });
});
