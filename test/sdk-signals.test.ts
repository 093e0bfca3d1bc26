// The SDK's metrics and logs as an app records them: trackMetric and trackLog on both backends (ClickHouse-direct,
// OTLP protobuf and OTLP JSON) store, column for column, what the receiver stores for the same data posted as
// OTLP/JSON by hand; the shared vectors give the same rows; trackError's exception lands in traces.events; a store
// that is down keeps them bounded, spooled and delivered after; bad arguments are reported, never thrown.

import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutomagikTelemetry, type AutomagikTelemetryOptions } from '../src/index.js';
import { packageVersion } from '../src/paths.js';
import { freePort } from './helpers/ports.js';
import { startProxy } from './helpers/proxy.js';
import { startStack, type RunningStack } from './helpers/stack.js';

let stack: RunningStack;
let otlpBase: string;

beforeAll(async () => {
  stack = await startStack();
  otlpBase = (stack.vars.OTEL_EXPORTER_OTLP_ENDPOINT ?? '').replace(/\/+$/, '');
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

const BACKENDS = [
  ['clickhouse', { backend: 'clickhouse' }],
  ['otlp protobuf', { backend: 'otlp', otlpProtocol: 'protobuf' }],
  ['otlp json', { backend: 'otlp', otlpProtocol: 'json' }],
] as const satisfies ReadonlyArray<readonly [string, AutomagikTelemetryOptions]>;

// An hour ago (the tables' TTL drops rows older than it keeps), at a millisecond of .678.
const T_MS = Math.floor(Date.now() / 1000) * 1000 - 3_600_000 + 678;
const T = new Date(T_MS).toISOString();
const T_NS = String(BigInt(T_MS) * 1_000_000n);
/** DateTime64(9) text `plusMs` after T. */
const text9 = (plusMs = 0) => `${new Date(T_MS + plusMs).toISOString().replace('T', ' ').slice(0, 23)}000000`;

function sdk(options: AutomagikTelemetryOptions, errors: Error[] = []): AutomagikTelemetry {
  return new AutomagikTelemetry({ version: '1.4.2', environment: 'production', flushIntervalMs: 60_000, onError: (e) => errors.push(e), ...options }, stack.vars);
}

/** Posts an OTLP/JSON request to the stack's receiver, as any OpenTelemetry exporter would. */
async function receive(signal: 'logs' | 'metrics', body: unknown): Promise<void> {
  const res = await fetch(`${otlpBase}/v1/${signal}`, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json', Authorization: stack.auth('ingest') } });
  expect(res.status, await res.clone().text()).toBe(200);
}

function resource(project: string) {
  const kv = (key: string, value: string) => ({ key, value: { stringValue: value } });
  return { attributes: [kv('service.name', project), kv('project.name', project), kv('project.version', '1.4.2'), kv('deployment.environment.name', 'production')] };
}

/** Every column but the ones naming the project, when the row was inserted, and (logs) when each writer saw the line. */
const METRIC_SELECT = `SELECT * EXCEPT (project_name, service_name, inserted_at) FROM telemetry.metrics`;
const LOG_SELECT = `SELECT * EXCEPT (project_name, service_name, observed_timestamp, inserted_at) FROM telemetry.logs`;

describe.each(BACKENDS)('trackMetric over %s', (label, backend) => {
  const tag = label.replace(/ /g, '-');

  it('stores a gauge, a counter and a histogram as the receiver stores the same points', async () => {
    const project = `m-${tag}`;
    const ref = `m-ref-${tag}`;
    const errors: Error[] = [];
    const t = sdk({ ...backend, projectName: project }, errors);
    t.trackMetric('queue.depth', 42, { type: 'gauge', unit: '{items}', attributes: { queue: 'emails' }, timestamp: T });
    t.trackMetric('orders.placed', 3, { type: 'counter', timestamp: T });
    t.trackMetric('http.server.duration', 37.5, { type: 'histogram', unit: 'ms', attributes: { route: '/cart' }, timestamp: T });
    expect(await t.shutdown()).toMatchObject({ sent: 3, failed: 0, pending: 0 });
    expect(errors).toEqual([]);
    expect(t.stats()).toMatchObject({ sent: 3, queued: 0, dropped: 0, failed: 0 });

    const bounds = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];
    await receive('metrics', {
      resourceMetrics: [
        {
          resource: resource(ref),
          scopeMetrics: [
            {
              scope: { name: 'automagik-telemetry', version: packageVersion() },
              metrics: [
                { name: 'queue.depth', unit: '{items}', gauge: { dataPoints: [{ attributes: [{ key: 'queue', value: { stringValue: 'emails' } }], timeUnixNano: T_NS, asDouble: 42 }] } },
                { name: 'orders.placed', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ startTimeUnixNano: T_NS, timeUnixNano: T_NS, asDouble: 3 }] } },
                {
                  name: 'http.server.duration',
                  unit: 'ms',
                  histogram: {
                    aggregationTemporality: 1,
                    dataPoints: [
                      { attributes: [{ key: 'route', value: { stringValue: '/cart' } }], startTimeUnixNano: T_NS, timeUnixNano: T_NS, count: 1, sum: 37.5, min: 37.5, max: 37.5, explicitBounds: bounds, bucketCounts: [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    });
    const ours = await stack.rows<Record<string, unknown>>(`${METRIC_SELECT} WHERE project_name = {p:String} ORDER BY metric_name`, { p: project });
    const theirs = await stack.rows<Record<string, unknown>>(`${METRIC_SELECT} WHERE project_name = {p:String} ORDER BY metric_name`, { p: ref });
    expect(ours).toHaveLength(3);
    expect(ours).toEqual(theirs);
    // And the values themselves, as a person reads them.
    expect(ours.map((r) => [r.metric_name, r.metric_type, r.value, r.count, r.sum, r.is_monotonic, r.temporality, r.unit])).toEqual([
      ['http.server.duration', 'histogram', 0, 1, 37.5, false, 'delta', 'ms'],
      ['orders.placed', 'sum', 3, 0, 0, true, 'cumulative', ''],
      ['queue.depth', 'gauge', 42, 0, 0, false, '', '{items}'],
    ]);
    expect(await stack.rows(`SELECT DISTINCT service_name, project_version, environment, scope_name FROM telemetry.metrics WHERE project_name = {p:String}`, { p: project })).toEqual([
      { service_name: project, project_version: '1.4.2', environment: 'production', scope_name: 'automagik-telemetry' },
    ]);
  });

  it('sends a counter as the running total of its series, since its first point', async () => {
    const project = `c-${tag}`;
    const t = sdk({ ...backend, projectName: project });
    t.trackMetric('jobs.done', 3, { type: 'counter', attributes: { queue: 'a' }, timestamp: T });
    t.trackMetric('jobs.done', 4, { type: 'counter', attributes: { queue: 'a' }, timestamp: Date.parse(T) + 1000 });
    t.trackMetric('jobs.done', 10, { type: 'counter', attributes: { queue: 'b' }, timestamp: Date.parse(T) + 2000 });
    expect(await t.shutdown()).toMatchObject({ sent: 3 });
    expect(await stack.rows(`SELECT attributes['queue'] AS q, value, toString(start_timestamp) AS start, toString(timestamp) AS at FROM telemetry.metrics WHERE project_name = {p:String} ORDER BY timestamp`, { p: project })).toEqual([
      { q: 'a', value: 3, start: text9(), at: text9() },
      { q: 'a', value: 7, start: text9(), at: text9(1000) },
      { q: 'b', value: 10, start: text9(2000), at: text9(2000) },
    ]);
  });
});

const SEVERITIES = [
  ['trace', 1],
  ['debug', 5],
  ['info', 9],
  ['warn', 13],
  ['error', 17],
  ['fatal', 21],
] as const;

describe.each(BACKENDS)('trackLog over %s', (label, backend) => {
  const tag = label.replace(/ /g, '-');

  it('stores a line of each severity, with trace and span ids and attributes, as the receiver stores them', async () => {
    const project = `l-${tag}`;
    const ref = `l-ref-${tag}`;
    const errors: Error[] = [];
    const t = sdk({ ...backend, projectName: project }, errors);
    const trace = '0123456789abcdef0123456789abcdef';
    const span = '0123456789abcdef';
    const records = SEVERITIES.map(([severity, number], i) => {
      const at = Date.parse(T) + i;
      t.trackLog(`line ${severity}`, { severity, attributes: { order: 'A-17', n: i, ok: i % 2 === 0 }, traceId: trace, spanId: span, timestamp: at });
      return {
        timeUnixNano: String(BigInt(at) * 1_000_000n),
        observedTimeUnixNano: String(BigInt(at) * 1_000_000n),
        severityNumber: number,
        severityText: severity.toUpperCase(),
        body: { stringValue: `line ${severity}` },
        attributes: [
          { key: 'order', value: { stringValue: 'A-17' } },
          { key: 'n', value: { stringValue: String(i) } },
          { key: 'ok', value: { stringValue: String(i % 2 === 0) } },
        ],
        traceId: trace,
        spanId: span,
      };
    });
    t.trackLog('no options at all');
    expect(await t.shutdown()).toMatchObject({ sent: 7, failed: 0 });
    expect(errors).toEqual([]);
    await receive('logs', { resourceLogs: [{ resource: resource(ref), scopeLogs: [{ scope: { name: 'automagik-telemetry', version: packageVersion() }, logRecords: records }] }] });

    const ours = await stack.rows<Record<string, unknown>>(`${LOG_SELECT} WHERE project_name = {p:String} AND body LIKE 'line %' ORDER BY timestamp`, { p: project });
    const theirs = await stack.rows<Record<string, unknown>>(`${LOG_SELECT} WHERE project_name = {p:String} ORDER BY timestamp`, { p: ref });
    expect(ours).toHaveLength(6);
    expect(ours).toEqual(theirs);
    expect(ours.map((r) => [r.severity_text, r.severity_number, r.body, r.trace_id, r.span_id])).toEqual(SEVERITIES.map(([s, n]) => [s.toUpperCase(), n, `line ${s}`, trace, span]));
    expect(ours[0]).toMatchObject({ attributes: { order: 'A-17', n: '0', ok: 'true' }, project_version: '1.4.2', environment: 'production', scope_name: 'automagik-telemetry' });
    // Defaults: severity INFO, no trace, stamped now.
    const [plain] = await stack.rows<{ severity_text: string; trace_id: string; age: number }>(
      `SELECT severity_text, trace_id, dateDiff('second', timestamp, now64(9)) AS age FROM telemetry.logs WHERE project_name = {p:String} AND body = 'no options at all'`,
      { p: project },
    );
    expect(plain).toMatchObject({ severity_text: 'INFO', trace_id: '' });
    expect(Math.abs(plain?.age ?? 99)).toBeLessThan(60);
  });
});

describe('the shared vectors (test-vectors/sdk-vectors.json) for metrics and logs', () => {
  interface Vector {
    name: string;
    resource: { project_name: string; version?: string; environment?: string };
    call: { kind: string; name?: string; value?: number; type?: 'gauge' | 'counter' | 'histogram'; unit?: string; message?: string; severity?: 'warn'; attributes?: Record<string, string>; trace_id?: string; span_id?: string; timestamp: string };
    rows: Array<Record<string, unknown>>;
  }
  const vectors = (JSON.parse(readFileSync(join(import.meta.dirname, '..', 'test-vectors', 'sdk-vectors.json'), 'utf8')) as Vector[]).filter((v) => v.call.kind === 'metric' || v.call.kind === 'log');

  it.each(BACKENDS)('give the rows the vectors hold, from the TypeScript SDK over %s', async (label, backend) => {
    expect(vectors.length).toBeGreaterThanOrEqual(5);
    for (const [i, v] of vectors.entries()) {
      const project = `vec-${label.replace(/ /g, '-')}-${i}`;
      const t = sdk({ ...backend, projectName: project, version: v.resource.version ?? '', environment: v.resource.environment ?? '' });
      const c = v.call;
      // The vectors' time, moved to an hour ago (the store's TTL would drop rows of January).
      expect(c.timestamp).toBe('2026-01-02T03:04:05.678Z');
      if (c.kind === 'metric') t.trackMetric(c.name ?? '', c.value ?? 0, { type: c.type, unit: c.unit, attributes: c.attributes, timestamp: T });
      else t.trackLog(c.message ?? '', { severity: c.severity, attributes: c.attributes, traceId: c.trace_id, spanId: c.span_id, timestamp: T });
      expect(await t.shutdown(), v.name).toMatchObject({ sent: 1 });
      const expected = v.rows.map((row) => {
        const out: Record<string, unknown> = {};
        for (const [k, value] of Object.entries(row)) {
          if (value === '<observed_ts>') continue;
          if (value === '2026-01-02 03:04:05.678000000') {
            out[k] = text9();
            continue;
          }
          // The vectors write UInt64 counts as numbers and booleans as 0/1, as ClickHouse's JSON output does by default.
          out[k] = k === 'project_name' || k === 'service_name' ? project : value;
        }
        return out;
      });
      const columns = Object.keys(expected[0] ?? {});
      const table = c.kind === 'metric' ? 'metrics' : 'logs';
      const got = await stack.rows<Record<string, unknown>>(
        `SELECT ${columns.map((k) => (k === 'timestamp' ? 'toString(timestamp) AS timestamp' : k === 'count' ? 'toUInt32(count) AS count' : k === 'bucket_counts' ? 'arrayMap(x -> toUInt32(x), bucket_counts) AS bucket_counts' : k === 'is_monotonic' ? 'toUInt8(is_monotonic) AS is_monotonic' : k)).join(', ')} FROM telemetry.${table} WHERE project_name = {p:String}`,
        { p: project },
      );
      expect(got, v.name).toEqual(expected);
    }
  });
});

describe('trackError', () => {
  it.each(BACKENDS)('records an "exception" span event with the standard attributes, over %s', async (label, backend) => {
    const project = `err-${label.replace(/ /g, '-')}`;
    const t = sdk({ ...backend, projectName: project });
    const e = new TypeError('bad input: quantity');
    t.trackError(e, { route: '/cart' });
    expect(await t.shutdown()).toMatchObject({ sent: 1 });
    const [row] = await stack.rows<{ span_name: string; status_code: string; names: string[]; attrs: Array<Record<string, string>>; at: string[]; ts: string }>(
      `SELECT span_name, status_code, events.name AS names, events.attributes AS attrs, arrayMap(x -> toString(x), events.timestamp) AS at, toString(timestamp) AS ts FROM telemetry.traces WHERE project_name = {p:String}`,
      { p: project },
    );
    expect(row).toMatchObject({ span_name: 'error', status_code: 'ERROR', names: ['exception'] });
    expect(row?.attrs).toEqual([{ 'exception.type': 'TypeError', 'exception.message': 'bad input: quantity', 'exception.stacktrace': e.stack }]);
    // The event happens when the error was tracked, the span's start.
    expect(row?.at[0]?.slice(0, 23)).toBe(row?.ts.slice(0, 23));
  });

  it('scrubs the exception event like the attributes', async () => {
    const t = sdk({ backend: 'clickhouse', projectName: 'err-scrub', scrub: 'redact' });
    t.trackError(new Error('no account for jane.doe@example.com'));
    expect(await t.shutdown()).toMatchObject({ sent: 1 });
    const [row] = await stack.rows<{ m: string; e: string }>(`SELECT attributes['exception.message'] AS m, events.attributes[1]['exception.message'] AS e FROM telemetry.traces WHERE project_name = 'err-scrub'`);
    expect(row?.e).not.toContain('jane.doe@example.com');
    expect(row?.e).toBe(row?.m);
  });
});

describe('metrics and logs share the events’ safety nets', () => {
  it('scrubs log bodies and attribute values of logs and metrics', async () => {
    const t = sdk({ backend: 'clickhouse', projectName: 'scrubbed', scrub: 'redact' });
    t.trackLog('mail to jane.doe@example.com failed', { attributes: { to: 'jane.doe@example.com' } });
    t.trackMetric('mails', 1, { type: 'counter', attributes: { to: 'jane.doe@example.com' } });
    expect(await t.shutdown()).toMatchObject({ sent: 2 });
    const logs = await stack.rows<{ body: string; to: string }>(`SELECT body, attributes['to'] AS to FROM telemetry.logs WHERE project_name = 'scrubbed'`);
    const metrics = await stack.rows<{ to: string }>(`SELECT attributes['to'] AS to FROM telemetry.metrics WHERE project_name = 'scrubbed'`);
    expect(logs).toHaveLength(1);
    expect(metrics).toHaveLength(1);
    for (const text of [logs[0]?.body, logs[0]?.to, metrics[0]?.to]) {
      expect(text).toBeTruthy();
      expect(text).not.toContain('jane.doe@example.com');
    }
    expect(logs[0]?.body).toMatch(/^mail to .+ failed$/);
  });

  it('reports bad arguments through onError, never throws, and queues nothing for them', async () => {
    const errors: Error[] = [];
    const t = sdk({ backend: 'clickhouse', projectName: 'bad-args' }, errors);
    const calls: Array<() => void> = [
      () => t.trackMetric('m', Number.NaN),
      () => t.trackMetric('m', Number.POSITIVE_INFINITY, { type: 'histogram' }),
      () => t.trackMetric('m', '3' as unknown as number),
      () => t.trackMetric('m', 1, { type: 'summary' as 'gauge' }),
      () => t.trackMetric('', 1),
      () => t.trackMetric('m', -1, { type: 'counter' }),
      () => t.trackMetric('m', 1, { timestamp: 'yesterday-ish' }),
      () => t.trackLog('x', { severity: 'loud' as 'info' }),
      () => t.trackLog('x', { traceId: 'not-a-trace' }),
      () => t.trackLog('x', { spanId: '0123' }),
      () => t.trackLog(42 as unknown as string),
      () => t.trackMetric('m', 10n as unknown as number),
      () => t.trackMetric(Symbol('s') as unknown as string, 1),
      () => t.trackLog({ toString: () => { throw new Error('hostile'); } } as unknown as string),
      () => t.trackLog('x', { attributes: { get boom(): string { throw new Error('getter'); } } }),
      () => t.trackMetric('m', 1, null as unknown as object),
    ];
    for (const call of calls) expect(call).not.toThrow();
    expect(t.stats().queued).toBe(1); // the null options were read as none: a gauge of 1
    expect(errors.map((e) => e.message)).toEqual([
      'trackMetric("m"): the value must be a finite number, got NaN',
      'trackMetric("m"): the value must be a finite number, got Infinity',
      'trackMetric("m"): the value must be a finite number, got "3"',
      "trackMetric(\"m\"): type must be 'gauge', 'counter' or 'histogram', got \"summary\"",
      'trackMetric(""): the metric name must be a non-empty string',
      'trackMetric("m"): a counter only goes up: the value must be >= 0, got -1',
      'trackMetric("m"): timestamp "yesterday-ish" is not a date',
      'trackLog("x"): severity must be one of trace, debug, info, warn, error, fatal; got "loud"',
      'trackLog("x"): traceId must be 32 hex characters, got "not-a-trace"',
      'trackLog("x"): spanId must be 16 hex characters, got "0123"',
      'trackLog(42): the message must be a string, got 42',
      'trackMetric("m"): the value must be a finite number, got 10n',
      'trackMetric(Symbol(s)): the metric name must be a non-empty string',
      'trackLog({}): the message must be a string, got {}',
      'trackLog("x"): getter',
    ]);
    expect(errors.every((e) => (e as { code?: string }).code === 'E_CONFIG')).toBe(true);
    await t.shutdown();
  });

  it.each([
    ['clickhouse', 'AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT'],
    ['otlp', 'OTEL_EXPORTER_OTLP_ENDPOINT'],
  ] as const)('keeps them bounded while the %s store is down, spools them at shutdown, and the next run delivers them once', async (backend, variable) => {
    const port = await freePort();
    const spoolDir = await mkdtemp(join(tmpdir(), 'amt-spool-'));
    try {
      const project = `down-${backend}`;
      const errors: Error[] = [];
      const down = `http://127.0.0.1:${port}`;
      const options: AutomagikTelemetryOptions = { backend, projectName: project, maxQueueSize: 30, batchSize: 10, maxRetries: 1, timeoutMs: 500, spoolDir };
      const t = sdk({ ...options, clickhouseEndpoint: down, endpoint: `${down}/v1/traces` }, errors);
      for (let i = 0; i < 25; i++) t.trackLog(`line ${i}`, { attributes: { i } });
      for (let i = 0; i < 25; i++) t.trackMetric('depth', i, { attributes: { i } });
      const first = await t.flush();
      expect(first.sent).toBe(0);
      expect(errors[0]?.message).toContain(`cannot reach ${down}`);
      // Bounded: with a durable spool the batches went to disk, the queue holds at most 30.
      const stats = t.stats();
      expect(stats.queued + stats.dropped).toBe(50);
      expect(stats.dropped).toBe(20);
      await t.shutdown();

      // The next run, with the store back, sends what the first one kept, and nothing twice.
      const proxy = await startProxy(backend === 'clickhouse' ? stack.vars[variable] : (stack.vars[variable] ?? '').replace(/\/+$/, ''), (_req, index) => (index === 0 ? { status: 503, forwardFirst: true } : undefined));
      const next = sdk({ ...options, clickhouseEndpoint: proxy.url, endpoint: `${proxy.url}/v1/traces` });
      const later = await next.flush();
      await next.shutdown();
      await proxy.close();
      expect(later).toMatchObject({ sent: 30, pending: 0 });
      expect(proxy.requests.map((r) => r.url.split('?')[0]).filter((u) => u !== '/')).toEqual(backend === 'otlp' ? expect.arrayContaining(['/v1/logs', '/v1/metrics']) : []);
      const logs = await stack.rows<{ i: string }>(`SELECT attributes['i'] AS i FROM telemetry.logs WHERE project_name = {p:String}`, { p: project });
      const points = await stack.rows<{ i: string }>(`SELECT attributes['i'] AS i FROM telemetry.metrics WHERE project_name = {p:String}`, { p: project });
      expect(logs.length + points.length).toBe(30);
      // The oldest were dropped: the newest 25 points are all there, once each.
      expect(new Set(points.map((p) => p.i)).size).toBe(points.length);
      expect(new Set(logs.map((l) => l.i)).size).toBe(logs.length);
      for (let i = 0; i < 25; i++) expect(points.map((p) => Number(p.i))).toContain(i);
    } finally {
      await rm(spoolDir, { recursive: true, force: true });
    }
  });
});
