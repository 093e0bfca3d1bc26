import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStatement } from '../src/clickhouse/http-client.js';
import { CHECKOUT, HEALTH, IMPORT, seedTraces, STACK_TRACE, stackConnection } from './helpers/trace-fixture.js';
import { startStack, type RunningStack } from './helpers/stack.js';

const t0 = Date.now() - 2 * 60_000;

async function login(base: string, password: string): Promise<string> {
  const res = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username: 'telemetry_reader', password }) });
  const cookie = res.headers.get('set-cookie') ?? '';
  if (!cookie.startsWith('amt_session=')) throw new Error(`login failed: ${res.status}`);
  return cookie.split(';')[0] as string;
}

let stack: RunningStack;
let base: string;
let cookie: string;
const api = async (path: string) => {
  const res = await fetch(`${base}${path}`, { headers: { cookie } });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};
const ids = async (query: string) => ((await api(`/api/traces?${query}`)).body.traces as Array<{ trace_id: string }>).map((t) => t.trace_id);

beforeAll(async () => {
  stack = await startStack();
  await seedTraces(stack, t0, true);
  base = `http://127.0.0.1:${stack.home.env.AUTOMAGIK_TELEMETRY_DASHBOARD_PORT}`;
  cookie = await login(base, stack.roles.reader.password);
});
afterAll(() => stack.stop());

describe('GET /api/traces: a script searches traces', () => {
  it('is refused without a session', async () => {
    const res = await fetch(`${base}/api/traces`);
    expect(res.status).toBe(401);
    expect((await fetch(`${base}/api/traces/${CHECKOUT}`)).status).toBe(401);
  });

  it('lists one row per trace, newest first, with root span, service, start, duration, span count and errors', async () => {
    const { status, body } = await api('/api/traces?range=1h');
    expect(status).toBe(200);
    expect(body.total).toBe(3);
    expect(body.traces).toEqual([
      { trace_id: CHECKOUT, root_name: 'GET /checkout', service: 'shop', project: 'shop', environment: 'prod', start_ms: t0, duration_ms: 120, spans: 4, errors: 1 },
      { trace_id: HEALTH, root_name: 'GET /health', service: 'shop', project: 'shop', environment: 'staging', start_ms: t0 - 300_000, duration_ms: 5, spans: 2, errors: 0 },
      { trace_id: IMPORT, root_name: 'batch.import', service: 'importer', project: 'etl', environment: 'prod', start_ms: t0 - 600_000, duration_ms: 5_000, spans: 10_000, errors: 0 },
    ]);
  });

  it('filters by service, project, environment, span name, status, duration, attributes and free text', async () => {
    expect(await ids('service=payments')).toEqual([CHECKOUT]);
    expect(await ids('project=etl')).toEqual([IMPORT]);
    expect(await ids('environment=staging')).toEqual([HEALTH]);
    expect(await ids('name=db.query')).toEqual([CHECKOUT]);
    expect(await ids('name=row')).toEqual([IMPORT]);
    expect(await ids('status=ERROR')).toEqual([CHECKOUT]);
    expect(await ids('status=OK')).toEqual([HEALTH, IMPORT]);
    expect(await ids('min_ms=100')).toEqual([CHECKOUT, IMPORT]);
    expect(await ids('min_ms=100&max_ms=120')).toEqual([CHECKOUT]);
    expect(await ids('max_ms=10')).toEqual([HEALTH]);
    expect(await ids('attr=card.brand%3Dvisa')).toEqual([CHECKOUT]);
    expect(await ids('attr=card.brand%3Dvisa&attr=order.id%3Dord-1234')).toEqual([CHECKOUT]);
    expect(await ids('attr=card.brand%3Dvisa&attr=order.id%3Dord-9')).toEqual([]);
    expect(await ids('attr=http.method%3DGET')).toEqual([CHECKOUT, HEALTH]);
    expect(await ids('q=FROM%20CARDS')).toEqual([CHECKOUT]);
    expect(await ids('q=health')).toEqual([HEALTH]);
    expect(await ids('service=shop&environment=prod&status=ERROR')).toEqual([CHECKOUT]);
  });

  it('takes a preset range or a custom from/to (epoch ms or ISO)', async () => {
    expect(await ids('range=15m')).toEqual([CHECKOUT, HEALTH, IMPORT]);
    expect(await ids(`from=${t0 - 60_000}&to=${t0 + 60_000}`)).toEqual([CHECKOUT]);
    expect(await ids(`from=${new Date(t0 - 420_000).toISOString()}&to=${new Date(t0 - 200_000).toISOString()}`)).toEqual([HEALTH]);
    const { body } = await api(`/api/traces?from=${t0 - 60_000}&to=${t0 + 60_000}`);
    expect([body.from, body.to]).toEqual([t0 - 60_000, t0 + 60_000]);
  });

  it('sorts by any column either way, and pages', async () => {
    expect(await ids('sort=duration&order=asc')).toEqual([HEALTH, CHECKOUT, IMPORT]);
    expect(await ids('sort=spans&order=desc')).toEqual([IMPORT, CHECKOUT, HEALTH]);
    expect(await ids('sort=root&order=asc')).toEqual([CHECKOUT, HEALTH, IMPORT]);
    expect(await ids('sort=errors&order=desc&limit=1')).toEqual([CHECKOUT]);
    expect(await ids('sort=duration&order=asc&limit=2&page=2')).toEqual([IMPORT]);
    const { body } = await api('/api/traces?limit=2&page=2');
    expect([body.total, body.offset, body.limit]).toEqual([3, 2, 2]);
  });

  it('returns a duration histogram of all matching traces and their count over time', async () => {
    const { body } = await api('/api/traces?range=1h');
    const histogram = body.histogram as Array<{ min_ms: number; max_ms: number; traces: number }>;
    expect(histogram.reduce((n, b) => n + b.traces, 0)).toBe(3);
    // Buckets on a 1-2-3-5-7 scale in each decade, from the first non-empty to the last.
    expect(histogram[0]).toEqual({ min_ms: 5, max_ms: 6, traces: 1 });
    expect(histogram.at(-1)).toEqual({ min_ms: 5_000, max_ms: 6_999, traces: 1 });
    expect(histogram.find((b) => b.min_ms <= 120 && 120 <= b.max_ms)).toEqual({ min_ms: 100, max_ms: 199, traces: 1 });
    expect(await ids('min_ms=100&max_ms=199')).toEqual([CHECKOUT]);
    const timeline = body.timeline as Array<{ t: number; traces: number; errors: number }>;
    expect(timeline.reduce((n, p) => n + p.traces, 0)).toBe(3);
    expect(timeline.reduce((n, p) => n + p.errors, 0)).toBe(1);
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=500', 'limit'],
    ['limit=ten', 'limit'],
    ['page=0', 'page'],
    ['status=failed', 'status'],
    ['sort=size', 'sort'],
    ['order=up', 'order'],
    ['range=2h', 'range'],
    ['from=yesterday', 'from'],
    [`from=${t0}&to=${t0 - 1}`, 'from'],
    ['from=0&to=99999999999999', 'from'],
    ['min_ms=-1', 'min_ms'],
    ['min_ms=10&max_ms=5', 'min_ms'],
    ['attr=novalue', 'attr'],
    ['attr=%3Dvalue', 'attr'],
    [`q=${'x'.repeat(201)}`, 'q'],
    ['service=a&service=b', 'service'],
    ['colour=red', 'colour'],
    [Array.from({ length: 11 }, (_, i) => `attr=k${i}%3Dv`).join('&'), 'attr'],
  ])('answers 400 naming the parameter for %s', async (query, parameter) => {
    const { status, body } = await api(`/api/traces?${query}`);
    expect(status).toBe(400);
    expect(body.parameter).toBe(parameter);
    expect(body.error).toMatch(new RegExp(`^${parameter.replace('.', '\\.')}: `));
  });

  it('binds hostile text instead of running it', async () => {
    expect(await ids(`q=${encodeURIComponent("') OR 1=1 --")}`)).toEqual([]);
    expect(await ids(`service=${encodeURIComponent("shop' OR '1'='1")}`)).toEqual([]);
    expect(await ids(`attr=${encodeURIComponent("x']=1 OR 1=1 --=y")}`)).toEqual([]);
    expect(await ids(`q=${encodeURIComponent('{q:String}')}`)).toEqual([]);
  });
});

describe('GET /api/traces/<id>: a script reads one trace', () => {
  it('gives its spans in start order, each with its events and links, and the logs that carry its id', async () => {
    const { status, body } = await api(`/api/traces/${CHECKOUT}`);
    expect(status).toBe(200);
    const spans = body.spans as Array<Record<string, any>>;
    expect(spans.map((s) => [s.span_name, s.parent_span_id, s.start_ms - t0, s.duration_ms])).toEqual([
      ['GET /checkout', '', 0, 120],
      ['charge card', 'a000000000000001', 10, 80],
      ['db.query', 'a000000000000002', 20, 30],
      ['render', 'a000000000000001', 95, 20],
    ]);
    const charge = spans[1] as Record<string, any>;
    expect(charge.status_code).toBe('ERROR');
    expect(charge.attributes).toEqual({ 'card.brand': 'visa', 'order.id': 'ord-1234' });
    expect(charge.events).toEqual([
      { timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}$/), name: 'exception', attributes: { 'exception.type': 'CardError', 'exception.message': 'card declined', 'exception.stacktrace': STACK_TRACE } },
    ]);
    expect(charge.links).toEqual([{ trace_id: HEALTH, span_id: 'b000000000000001', attributes: { reason: 'retry after health check' } }]);
    expect(spans[0]?.events).toEqual([]);
    expect(body.logs).toEqual([
      expect.objectContaining({ time_ms: t0 + 60, span_id: 'a000000000000003', severity_text: 'ERROR', severity_number: 17, body: 'payment failed for order ord-1234', service_name: 'payments', attributes: { 'order.id': 'ord-1234' } }),
    ]);
    expect(body.features).toEqual({ events: true, links: true, logs: true });
    expect(body.truncated).toBe(false);
  });

  it('reads a 10,000-span trace whole', async () => {
    const { body } = await api(`/api/traces/${IMPORT}`);
    expect(body.spans).toHaveLength(10_000);
    expect(body.truncated).toBe(false);
  });

  it('gives the outline alone with fields=outline (what the waterfall paints first)', async () => {
    const { status, body } = await api(`/api/traces/${CHECKOUT}?fields=outline`);
    expect(status).toBe(200);
    expect(body.columns).toEqual(['span_id', 'parent_span_id', 'start_ms', 'duration_ms', 'service_name', 'span_name', 'status_code']);
    expect(body.spans[1]).toEqual(['a000000000000002', 'a000000000000001', t0 + 10, 80, 'payments', 'charge card', 'ERROR']);
    expect(body.truncated).toBe(false);
    expect((await api(`/api/traces/${IMPORT}?fields=outline`)).body.spans).toHaveLength(10_000);
    expect((await api(`/api/traces/${CHECKOUT}?fields=all`)).body.parameter).toBe('fields');
    expect((await api(`/api/traces/${CHECKOUT}?limit=1`)).body.parameter).toBe('limit');
    expect((await api(`/api/traces/${'f'.repeat(32)}?fields=outline`)).status).toBe(404);
  });

  it('answers 404 for an unknown trace and 400 naming trace_id for a malformed one', async () => {
    const missing = await api(`/api/traces/${'f'.repeat(32)}`);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toContain('no trace');
    for (const bad of ['xyz', '0af7651916cd43dd8448eb211c80319', `${CHECKOUT}0`, "0af7651916cd43dd8448eb211c80319'", '%E0%A4%A', `${CHECKOUT}/x`, '']) {
      const res = await api(`/api/traces/${bad.includes('%') || bad.includes('/') ? bad : encodeURIComponent(bad)}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.parameter).toBe('trace_id');
    }
  });

  it('accepts only GET', async () => {
    const res = await fetch(`${base}/api/traces`, { method: 'POST', headers: { cookie } });
    expect(res.status).toBe(405);
  });
});

describe('a trace from the official OpenTelemetry SDK', () => {
  it('is found by its attribute and opens as a tree, the error marked', async () => {
    const auth = stack.auth('ingest');
    const exporter = new OTLPTraceExporter({ url: `${stack.vars.OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces`, headers: { Authorization: auth } });
    const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'otel-shop', 'deployment.environment.name': 'qa' }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('explorer-test');
    const start = Date.now() - 1_000;
    const root = tracer.startSpan('POST /orders', { startTime: start, attributes: { 'http.route': '/orders' } });
    const rootContext = trace.setSpan(context.active(), root);
    const child = tracer.startSpan('reserve stock', { startTime: start + 5 }, rootContext);
    const leaf = tracer.startSpan('UPDATE stock', { startTime: start + 10 }, trace.setSpan(rootContext, child));
    leaf.setStatus({ code: SpanStatusCode.ERROR, message: 'deadlock' });
    leaf.end(start + 30);
    child.end(start + 40);
    root.end(start + 50);
    await provider.forceFlush();
    await provider.shutdown();
    const traceId = root.spanContext().traceId;
    const found = await api('/api/traces?attr=http.route%3D/orders&environment=qa');
    expect(found.body.traces).toEqual([{ trace_id: traceId, root_name: 'POST /orders', service: 'otel-shop', project: 'otel-shop', environment: 'qa', start_ms: start, duration_ms: 50, spans: 3, errors: 1 }]);
    const { body } = await api(`/api/traces/${traceId}`);
    expect(body.spans.map((s: Record<string, string>) => [s.span_name, s.span_id, s.parent_span_id, s.status_code])).toEqual([
      ['POST /orders', root.spanContext().spanId, '', 'OK'],
      ['reserve stock', child.spanContext().spanId, root.spanContext().spanId, 'OK'],
      ['UPDATE stock', leaf.spanContext().spanId, child.spanContext().spanId, 'ERROR'],
    ]);
  });
});

describe('a logs table this version cannot read', () => {
  it('still gives the spans, and says why the logs are missing', async () => {
    const other = await startStack();
    try {
      await seedTraces(other, t0, false);
      const connection = stackConnection(other);
      // A logs table of another shape in place of schema v2's.
      await runStatement(connection, 'DROP TABLE telemetry.logs');
      await runStatement(connection, 'CREATE TABLE telemetry.logs (timestamp DateTime64(9), trace_id String, message String) ENGINE = MergeTree ORDER BY timestamp');
      const otherBase = `http://127.0.0.1:${other.home.env.AUTOMAGIK_TELEMETRY_DASHBOARD_PORT}`;
      const otherCookie = await login(otherBase, other.roles.reader.password);
      const res = await fetch(`${otherBase}/api/traces/${CHECKOUT}`, { headers: { cookie: otherCookie } });
      const body = (await res.json()) as Record<string, any>;
      expect(res.status).toBe(200);
      expect(body.spans).toHaveLength(4);
      expect(body.logs).toEqual([]);
      expect(body.features.logs).toBe(true);
      expect(body.logs_error).toMatch(/severity_text|Unknown|UNKNOWN_IDENTIFIER|Missing columns/i);
    } finally {
      await other.stop();
    }
  });
});

describe('a store on schema v1 (no events, links or logs)', () => {
  it('shows spans with no events, links or logs, and says which parts the store lacks', async () => {
    const v1 = await startStack();
    try {
      await seedTraces(v1, t0, false);
      // Back to what schema v1 had: no span events or links, no logs table.
      const connection = stackConnection(v1);
      await runStatement(connection, 'ALTER TABLE telemetry.traces DROP COLUMN events, DROP COLUMN links');
      await runStatement(connection, 'DROP TABLE telemetry.logs');
      const v1Base = `http://127.0.0.1:${v1.home.env.AUTOMAGIK_TELEMETRY_DASHBOARD_PORT}`;
      const v1Cookie = await login(v1Base, v1.roles.reader.password);
      const res = await fetch(`${v1Base}/api/traces/${CHECKOUT}`, { headers: { cookie: v1Cookie } });
      const body = (await res.json()) as Record<string, any>;
      expect(res.status).toBe(200);
      expect(body.spans).toHaveLength(4);
      expect(body.spans.every((s: Record<string, unknown[]>) => s.events?.length === 0 && s.links?.length === 0)).toBe(true);
      expect(body.logs).toEqual([]);
      expect(body.features).toEqual({ events: false, links: false, logs: false });
    } finally {
      await v1.stop();
    }
  });
});

describe('the dashboard login under attack', () => {
  it('allows 10 failed attempts a minute per address, then answers 429 with Retry-After, even to the right password', async () => {
    const attempt = (password: string) =>
      fetch(`${base}/login`, { method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username: 'telemetry_reader', password }) });
    for (let i = 0; i < 10; i++) {
      const res = await attempt(`wrong-${i}`);
      expect(res.status, `attempt ${i + 1}`).toBe(303);
      expect(res.headers.get('location')).toBe('/login?failed=1');
    }
    const refused = await attempt('wrong-11');
    expect(refused.status).toBe(429);
    const wait = Number(refused.headers.get('retry-after'));
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    expect(await refused.text()).toContain('try again in');
    const right = await attempt(stack.roles.reader.password);
    expect(right.status).toBe(429);
    expect(right.headers.get('set-cookie')).toBeNull();
    // A session made before the attack still works.
    expect((await api('/api/traces?limit=1')).status).toBe(200);
  });
});
