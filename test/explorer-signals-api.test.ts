import { context, trace, TraceFlags } from '@opentelemetry/api';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketQuantile } from '../src/query/histogram-quantile.js';
import { HISTOGRAM_BOUNDS, HISTOGRAM_COUNTS, logsRequest, postOtlp, SEEDED_LOGS, seedSignals } from './helpers/signal-fixture.js';
import { startStack, type RunningStack } from './helpers/stack.js';
import { CHECKOUT, seedTraces } from './helpers/trace-fixture.js';

const now = Date.now();

let stack: RunningStack;
let base: string;
let cookie: string;
const api = async (path: string) => {
  const res = await fetch(`${base}${path}`, { headers: { cookie } });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};
const bodies = async (query: string) => ((await api(`/api/logs?${query}`)).body.logs as Array<{ body: string }>).map((l) => l.body);
/** Records are listed once they are a second old (an insert still committing is never skipped). */
const settle = () => new Promise((r) => setTimeout(r, 1_300));

beforeAll(async () => {
  stack = await startStack();
  await seedTraces(stack, now - 2 * 60_000, true);
  await seedSignals(stack, now);
  base = `http://127.0.0.1:${stack.home.env.AUTOMAGIK_TELEMETRY_DASHBOARD_PORT}`;
  const res = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username: 'telemetry_reader', password: stack.roles.reader.password }) });
  cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
  await settle();
});
afterAll(() => stack?.stop());

describe('GET /api/logs: a script reads log records', () => {
  it('is refused without a session', async () => {
    expect((await fetch(`${base}/api/logs`)).status).toBe(401);
    expect((await fetch(`${base}/api/metrics`)).status).toBe(401);
  });

  it('lists the last hour newest first, with severity, service, project, trace id and attributes', async () => {
    const { status, body } = await api('/api/logs');
    expect(status).toBe(200);
    // The checkout trace's own log (trace-fixture) sits 2 minutes back, newest of all.
    expect(body.logs.map((l: { body: string }) => l.body)).toEqual(['payment failed for order ord-1234', ...SEEDED_LOGS.slice(0, 4).map((l) => l.body)]);
    expect(body.total).toBe(5);
    const declined = body.logs.find((l: { body: string }) => l.body === 'payment declined');
    expect(declined).toMatchObject({ severity_text: 'ERROR', severity_number: 17, service: 'payments', project: 'shop', environment: 'prod', trace_id: CHECKOUT, span_id: 'a000000000000002', attributes: { 'card.brand': 'visa' } });
    expect(Math.abs(declined.time_ms - (now - 9 * 60_000))).toBeLessThanOrEqual(1);
    expect(typeof body.cursor).toBe('string');
  });

  it('filters by minimum severity, text in the body or an attribute, service, project, environment, trace id and time', async () => {
    expect(await bodies('severity=warn')).toEqual(['payment failed for order ord-1234', 'slow query on cards', 'payment declined']);
    expect(await bodies('severity=17')).toEqual(['payment failed for order ord-1234', 'payment declined']);
    expect(await bodies('q=CARDS')).toEqual(['slow query on cards']);
    expect(await bodies('q=visa')).toEqual(['payment declined']);
    expect(await bodies('q=user.id')).toEqual(['cache miss for user u-42']);
    expect(await bodies('service=shop')).toEqual(['cache miss for user u-42', 'order placed']);
    expect(await bodies('project=nope')).toEqual([]);
    expect(await bodies('environment=prod&service=payments')).toEqual(['payment failed for order ord-1234', 'slow query on cards', 'payment declined']);
    expect(await bodies(`trace_id=${CHECKOUT.toUpperCase()}`)).toEqual(['payment failed for order ord-1234', 'payment declined']);
    expect(await bodies('range=6h&service=exporter')).toEqual(['nightly export done']);
    expect(await bodies(`from=${now - 9.5 * 60_000}&to=${now - 7.5 * 60_000}`)).toEqual(['cache miss for user u-42', 'payment declined']);
  });

  it('pages with limit and page', async () => {
    const first = await api('/api/logs?limit=2');
    const second = await api('/api/logs?limit=2&page=2');
    expect(first.body.logs.map((l: { body: string }) => l.body)).toEqual(['payment failed for order ord-1234', 'slow query on cards']);
    expect(second.body.logs.map((l: { body: string }) => l.body)).toEqual(['cache miss for user u-42', 'payment declined']);
    expect([first.body.total, second.body.offset]).toEqual([5, 2]);
  });

  it('tails: records that arrive after an answer come from its cursor exactly once, none that it listed', async () => {
    const listed = await api('/api/logs?service=tailer');
    expect(listed.body.logs).toEqual([]);
    let cursor = listed.body.cursor as string;
    await postOtlp(stack, 'logs', logsRequest(Date.now(), [{ body: 'tail one', severity: 'INFO', service: 'tailer', ago: 0, attributes: {} }]));
    await postOtlp(stack, 'logs', logsRequest(Date.now(), [{ body: 'tail two', severity: 'ERROR', service: 'tailer', ago: 0, attributes: {} }, { body: 'other service', severity: 'INFO', service: 'shop', ago: 0, attributes: {} }]));
    const seen: string[] = [];
    for (let i = 0; i < 30 && seen.length < 2; i++) {
      const next = await api(`/api/logs?service=tailer&tail=${cursor}`);
      expect(next.status).toBe(200);
      seen.push(...next.body.logs.map((l: { body: string }) => l.body));
      cursor = next.body.cursor;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(seen).toEqual(['tail one', 'tail two']);
    await settle();
    expect((await api(`/api/logs?service=tailer&tail=${cursor}`)).body.logs).toEqual([]);
    // A listing made now shows both, and its cursor none of them.
    const after = await api('/api/logs?service=tailer');
    expect(after.body.logs.map((l: { body: string }) => l.body)).toEqual(['tail two', 'tail one']);
    expect((await api(`/api/logs?service=tailer&tail=${after.body.cursor}`)).body.logs).toEqual([]);
    // The tail honours the filters: severity=error sees only the error.
    const errors = await api(`/api/logs?service=tailer&severity=error&tail=${listed.body.cursor}`);
    expect(errors.body.logs.map((l: { body: string }) => l.body)).toEqual(['tail two']);
  });

  it("finds what the official OpenTelemetry logs SDK sends (protobuf), by an attribute's value and by its trace", async () => {
    const exporter = new OTLPLogExporter({ url: `http://127.0.0.1:${stack.home.env.AUTOMAGIK_TELEMETRY_OTLP_PORT}/v1/logs`, headers: { Authorization: stack.auth('ingest') } });
    const provider = new LoggerProvider({ resource: resourceFromAttributes({ 'service.name': 'otel-app', 'deployment.environment': 'qa' }), processors: [new SimpleLogRecordProcessor({ exporter })] });
    const traceId = '5b8efff798038103d269b633813fc60c';
    const inTrace = trace.setSpanContext(context.active(), { traceId, spanId: 'eee19b7ec3c1b174', traceFlags: TraceFlags.SAMPLED });
    provider.getLogger('checkout').emit({ body: 'refund issued', severityNumber: 13, severityText: 'WARN', attributes: { 'refund.id': 'rf-991', amount: 12.5 }, context: inTrace });
    await provider.forceFlush();
    await provider.shutdown();
    await settle();
    const { body } = await api('/api/logs?q=rf-991');
    expect(body.logs).toEqual([
      expect.objectContaining({ body: 'refund issued', severity_text: 'WARN', severity_number: 13, service: 'otel-app', project: 'otel-app', environment: 'qa', trace_id: traceId, span_id: 'eee19b7ec3c1b174', attributes: { 'refund.id': 'rf-991', amount: '12.5' } }),
    ]);
    expect(await bodies(`trace_id=${traceId}&environment=qa&severity=warn`)).toEqual(['refund issued']);
  });

  it.each([
    ['severity=loud', 'severity'],
    ['severity=25', 'severity'],
    ['trace_id=xyz', 'trace_id'],
    ['limit=0', 'limit'],
    ['limit=501', 'limit'],
    ['page=0', 'page'],
    ['tail=not-a-cursor', 'tail'],
    [`tail=${Buffer.from('["x","y","z"]').toString('base64url')}`, 'tail'],
    [`tail=${Buffer.from('["9999-99-99 99:99:99","1970-01-01 00:00:00","1"]').toString('base64url')}`, 'tail'],
    [`tail=${Buffer.from('{"ci":1}').toString('base64url')}`, 'tail'],
    ['from=yesterday', 'from'],
    ['colour=red', 'colour'],
    ['service=a&service=b', 'service'],
    [`q=${'x'.repeat(201)}`, 'q'],
  ])('answers 400 naming the parameter for %s', async (query, parameter) => {
    const { status, body } = await api(`/api/logs?${query}`);
    expect(status).toBe(400);
    expect(body.parameter).toBe(parameter);
    expect(body.error).toMatch(new RegExp(`^${parameter}: `));
  });

  it('treats hostile text as text: quotes, backslashes and SQL find nothing and break nothing', async () => {
    for (const q of ["' OR 1=1 --", '\\', '%', "payment'); DROP TABLE telemetry.logs; --"]) {
      const { status, body } = await api(`/api/logs?q=${encodeURIComponent(q)}`);
      expect(status, q).toBe(200);
      expect(body.logs, q).toEqual([]);
    }
    expect((await api('/api/logs')).body.total).toBeGreaterThanOrEqual(5);
  });
});

describe('GET /api/metrics: a script charts a metric', () => {
  type Series = { group: string; stat: string; points: Array<[number, number]> };
  const series = async (query: string) => {
    const { status, body } = await api(`/api/metrics?${query}`);
    expect(status, JSON.stringify(body)).toBe(200);
    return body as { kind: string; type: string; unit: string; source: string; step_ms: number; series: Series[]; other_groups: number };
  };

  it('lists the metric names of the range, with a search', async () => {
    const { status, body } = await api('/api/metrics');
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.source).toBe('metrics');
    expect(body.metrics).toEqual([
      { name: 'http.duration', type: 'histogram', unit: 'ms', points: 10 },
      { name: 'http.requests', type: 'sum', unit: '{request}', points: 20 },
      { name: 'queue.depth', type: 'gauge', unit: '{job}', points: 20 },
    ]);
    expect((await api('/api/metrics?q=HTTP.')).body.metrics.map((m: { name: string }) => m.name)).toEqual(['http.duration', 'http.requests']);
    // Over a week the list comes from the hourly rollup, with the same names and counts.
    const week = await api('/api/metrics?range=7d&q=queue');
    expect(week.body).toMatchObject({ source: 'metric_points_hourly', metrics: [{ name: 'queue.depth', type: 'gauge', unit: '{job}', points: 20 }] });
  });

  it('charts a gauge as its values, split by an attribute', async () => {
    const result = await series('name=queue.depth&by=queue');
    expect(result).toMatchObject({ kind: 'value', type: 'gauge', unit: '{job}', source: 'metrics', step_ms: 30_000, other_groups: 0 });
    const byGroup = Object.fromEntries(result.series.map((s) => [s.group, s.points.map((p) => p[1])]));
    expect(byGroup).toEqual({ emails: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], sms: [10, 11, 12, 13, 14, 15, 16, 17, 18, 19] });
    // Unsplit, each bucket is the mean of both queues.
    expect((await series('name=queue.depth')).series.map((s) => s.points.map((p) => p[1]))).toEqual([[5, 6, 7, 8, 9, 10, 11, 12, 13, 14]]);
    // top=1 keeps the series with the most points (a tie: by value, ascending), and says how many were left out.
    const top = await series('name=queue.depth&by=queue&top=1');
    expect([top.series.map((s) => s.group), top.other_groups]).toEqual([['emails'], 1]);
  });

  it('charts a long range of a gauge from the hourly rollup, with the same mean', async () => {
    const result = await series('name=queue.depth&range=7d');
    expect(result).toMatchObject({ kind: 'value', source: 'metric_points_hourly', step_ms: 10_800_000 });
    const points = result.series[0]?.points ?? [];
    const total = points.reduce((n, p) => n + p[1], 0);
    // All 20 points (mean 9.5) fall in one 3-hour bucket, or two when the ten minutes cross its edge.
    if (points.length === 1) expect(total).toBeCloseTo(9.5, 9);
    else expect(points.length).toBe(2);
  });

  it('charts a cumulative counter as a rate per second, per route', async () => {
    const result = await series('name=http.requests&by=route');
    expect(result).toMatchObject({ kind: 'rate', type: 'sum' });
    const rates = Object.fromEntries(result.series.map((s) => [s.group, s.points.map((p) => Math.round(p[1] * 1e6) / 1e6)]));
    // The first point starts each series (value 0): no increase yet; then 60 and 120 a minute.
    expect(rates).toEqual({ '/a': [0, 1, 1, 1, 1, 1, 1, 1, 1, 1], '/b': [0, 2, 2, 2, 2, 2, 2, 2, 2, 2] });
    // Unsplit: the routes' rates add up.
    expect((await series('name=http.requests')).series[0]?.points.slice(1).map((p) => Math.round(p[1] * 1e6) / 1e6)).toEqual([3, 3, 3, 3, 3, 3, 3, 3, 3]);
  });

  it("charts a histogram's p50, p95 and p99 from its bucket counts", async () => {
    const result = await series('name=http.duration');
    expect(result).toMatchObject({ kind: 'quantiles', type: 'histogram', unit: 'ms' });
    const stats = Object.fromEntries(result.series.map((s) => [s.stat, s.points.map((p) => Math.round(p[1] * 1000) / 1000)]));
    expect(stats).toEqual({ p50: Array(10).fill(36.667), p95: Array(10).fill(300), p99: Array(10).fill(460) });
  });

  it.each([
    ['by=queue', 'by'],
    ['top=0', 'top'],
    ['top=21', 'top'],
    ['range=1y', 'range'],
    ['metric=x', 'metric'],
    [`from=${now}&to=${now - 1000}`, 'from'],
  ])('answers 400 naming the parameter for %s', async (query, parameter) => {
    const { status, body } = await api(`/api/metrics?${query}`);
    expect(status).toBe(400);
    expect(body.parameter).toBe(parameter);
  });

  it("charts what the official OpenTelemetry SDK sends (cumulative): a counter's rate and a histogram's quantiles", async () => {
    const exporter = new OTLPMetricExporter({ url: `http://127.0.0.1:${stack.home.env.AUTOMAGIK_TELEMETRY_OTLP_PORT}/v1/metrics`, headers: { Authorization: stack.auth('ingest') } });
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'sdk-app', 'project.name': 'sdk-app' }), readers: [reader] });
    const meter = provider.getMeter('explorer-test');
    const orders = meter.createCounter('sdk.orders');
    const latency = meter.createHistogram('sdk.latency', { unit: 'ms' });
    orders.add(10);
    for (let i = 0; i < 50; i++) latency.record(5);
    for (let i = 0; i < 50; i++) latency.record(300);
    await reader.forceFlush();
    const first = Date.now();
    await new Promise((r) => setTimeout(r, 2_000));
    orders.add(30);
    await reader.forceFlush();
    const elapsed = (Date.now() - first) / 1000;
    await provider.shutdown();

    const rate = await series('name=sdk.orders&project=sdk-app&range=15m');
    expect(rate).toMatchObject({ kind: 'rate', type: 'sum' });
    // The first export starts the series (10 since the provider started); the second adds 30 over ~2 s.
    const values = rate.series[0]?.points.map((p) => p[1]) ?? [];
    expect(values.length).toBeGreaterThanOrEqual(1);
    const last = values[values.length - 1] as number;
    // Shutting down exports once more (no increase, a few ms later): the bucket's rate is its increase over its time.
    expect(last).toBeGreaterThan((30 / elapsed) * 0.8);
    expect(last).toBeLessThan((30 / (elapsed - 0.3)) * 1.2);
    const histogram = await series('name=sdk.latency&project=sdk-app&range=15m');
    expect(histogram).toMatchObject({ kind: 'quantiles', unit: 'ms' });
    // The SDK's default bounds (0, 5, 10, 25, 50, 75, 100, 250, 500, …): 50 in (0, 5], 50 in (250, 500], max 300.
    const stats = Object.fromEntries(histogram.series.map((s) => [s.stat, s.points.map((p) => p[1])]));
    expect(stats.p50?.[0]).toBe(5);
    expect(stats.p95?.[0]).toBe(300);
  });

  it('charts a summary and an exponential histogram as their mean observation', async () => {
    const at = (ago: number) => `${BigInt(Date.now() - ago) * 1_000_000n}`;
    await postOtlp(stack, 'metrics', {
      resourceMetrics: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shop' } }] },
        scopeMetrics: [{ metrics: [
          { name: 'rpc.summary', unit: 's', summary: { dataPoints: [{ timeUnixNano: at(120_000), count: '4', sum: 100, quantileValues: [{ quantile: 0.5, value: 20 }] }] } },
          { name: 'rpc.exp', exponentialHistogram: { aggregationTemporality: 1, dataPoints: [{ timeUnixNano: at(120_000), count: '5', sum: 40, scale: 0, zeroCount: '0', positive: { offset: 0, bucketCounts: ['5'] } }] } },
        ] }],
      }],
    });
    expect(await series('name=rpc.summary')).toMatchObject({ kind: 'mean', type: 'summary', unit: 's', series: [{ stat: 'mean', points: [[expect.any(Number), 25]] }] });
    expect(await series('name=rpc.exp')).toMatchObject({ kind: 'mean', type: 'exponential_histogram', series: [{ stat: 'mean', points: [[expect.any(Number), 8]] }] });
  });

  it('splits by attribute values with quotes and backslashes', async () => {
    const body = metricsRequestWith([{ queue: "o'brien" }, { queue: 'back\\slash' }, { queue: '' }]);
    await postOtlp(stack, 'metrics', body);
    const result = await series('name=odd.depth&by=queue');
    expect(result.series.map((s) => [s.group, s.points.length])).toEqual([['', 1], ['back\\slash', 1], ["o'brien", 1]]);
  });

  it('answers an unknown metric with no series, and hostile names as plain text', async () => {
    expect(await series('name=nope')).toMatchObject({ type: '', series: [] });
    expect(await series(`name=${encodeURIComponent("x' OR 1=1 --")}&by=${encodeURIComponent("'\\")}`)).toMatchObject({ type: '', series: [] });
  });
});

/** A gauge `odd.depth` with one point per attribute set, a minute ago. */
function metricsRequestWith(sets: Array<Record<string, string>>): unknown {
  const at = `${BigInt(Date.now() - 60_000) * 1_000_000n}`;
  return {
    resourceMetrics: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shop' } }] },
      scopeMetrics: [{ metrics: [{ name: 'odd.depth', gauge: { dataPoints: sets.map((a) => ({ timeUnixNano: at, asDouble: 1, attributes: Object.entries(a).map(([key, value]) => ({ key, value: { stringValue: value } })) })) } }] }],
    }],
  };
}

describe('bucketQuantile: quantiles from explicit bucket counts', () => {
  it('interpolates inside the bucket the rank falls in', () => {
    expect(bucketQuantile(0.5, HISTOGRAM_COUNTS, HISTOGRAM_BOUNDS)).toBeCloseTo(10 + 40 * (40 / 60), 9);
    expect(bucketQuantile(0.95, HISTOGRAM_COUNTS, HISTOGRAM_BOUNDS)).toBe(300);
    expect(bucketQuantile(0.99, HISTOGRAM_COUNTS, HISTOGRAM_BOUNDS, 1, 480)).toBe(460);
  });

  it('starts the first bucket at min (else 0) and ends the last at max, and clamps to them', () => {
    expect(bucketQuantile(0.5, [4, 0], [10])).toBe(5);
    expect(bucketQuantile(0.5, [4, 0], [10], 6)).toBe(8);
    expect(bucketQuantile(0.5, [0, 4], [10], null, 30)).toBe(20);
    expect(bucketQuantile(0.5, [0, 4], [10])).toBe(10);
    expect(bucketQuantile(0.99, [1, 0, 0], [10, 20], 2, 3)).toBe(3);
  });

  it('has no value for no observations or counts that do not fit the bounds', () => {
    expect(bucketQuantile(0.5, [0, 0], [10])).toBeUndefined();
    expect(bucketQuantile(0.5, [1, 2], [10, 20])).toBeUndefined();
  });
});
