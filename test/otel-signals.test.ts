import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config/index.js';
import { startEmbeddedServer, type RunningEmbeddedServer } from '../src/engine/embedded/server.js';
import { packageRoot } from '../src/paths.js';
import { configFor, makeTestHome, type TestHome } from './helpers/home.js';
import { basicAuthorization } from '../src/clickhouse/auth-header.js';

// An app instrumented with the official OpenTelemetry Node SDK, configured only by environment variables (as `env`
// prints them): one traced checkout with a recorded exception and a link, a log line inside it, and one metric of
// each instrument kind. It prints the ids it made.
const APP = `
import { NodeSDK } from '@opentelemetry/sdk-node';
import { context, metrics, trace, SpanStatusCode } from '@opentelemetry/api';
import { logs, SeverityNumber } from '@opentelemetry/api-logs';
const sdk = new NodeSDK();
sdk.start();
const tracer = trace.getTracer('signals-test', '1.0.0');
const earlier = tracer.startSpan('enqueue');
earlier.end();
const span = tracer.startSpan('checkout', { links: [{ context: earlier.spanContext(), attributes: { 'link.reason': 'follows' } }], attributes: { 'cart.items': 3 } });
span.recordException(new TypeError('card declined'));
span.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
context.with(trace.setSpan(context.active(), span), () => {
  logs.getLogger('signals-test').emit({ severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: 'payment retried', attributes: { attempt: 2, 'order.id': 'o-17' } });
});
span.end();
const meter = metrics.getMeter('signals-test');
meter.createCounter('orders.placed', { unit: '{order}', description: 'orders placed' }).add(3, { region: 'eu' });
meter.createUpDownCounter('queue.depth').add(-2);
const latency = meter.createHistogram('checkout.latency', { unit: 'ms' });
latency.record(12.5);
latency.record(80);
meter.createObservableGauge('cpu.temperature', { unit: 'Cel' }).addCallback((r) => r.observe(21.5));
await sdk.shutdown();
console.log(JSON.stringify({ traceId: span.spanContext().traceId, spanId: span.spanContext().spanId, linkedTraceId: earlier.spanContext().traceId, linkedSpanId: earlier.spanContext().spanId }));
`;

let home: TestHome;
let config: Config;
let server: RunningEmbeddedServer;
let auth: string;

beforeAll(async () => {
  home = await makeTestHome();
  config = await configFor(home);
  server = await startEmbeddedServer(config);
  auth = basicAuthorization({ username: 'telemetry', password: config.auth.roles.admin.password ?? '' });
});
afterAll(async () => {
  await server?.close();
  await home?.cleanup();
});

async function sql<T>(query: string): Promise<T[]> {
  const res = await fetch(`http://127.0.0.1:${config.ports.clickhouse}/?default_format=JSONEachRow`, { method: 'POST', body: query, headers: { Authorization: auth } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(text);
  return text.trim() === '' ? [] : text.trim().split('\n').map((l) => JSON.parse(l) as T);
}

interface AppRun {
  ids: { traceId: string; spanId: string; linkedTraceId: string; linkedSpanId: string };
  stderr: string;
}

function runApp(env: Record<string, string>): Promise<AppRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', APP], {
      cwd: packageRoot(),
      env: { PATH: process.env.PATH ?? '', OTEL_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`app exited ${code}: ${stderr}`));
      resolve({ ids: JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as AppRun['ids'], stderr });
    });
  });
}

const PROTOCOLS = [
  { protocol: 'http/protobuf', port: () => config.ports.otlp },
  { protocol: 'http/json', port: () => config.ports.otlp },
  { protocol: 'grpc', port: () => config.ports.otlpGrpc },
] as const;

describe.each(PROTOCOLS)('an app on the official Node SDK exporting all three signals over $protocol', ({ protocol, port }) => {
  const project = `shop-${protocol.replace(/\W/g, '-')}`;
  let run: AppRun;

  beforeAll(async () => {
    run = await runApp({
      OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port()}`,
      OTEL_EXPORTER_OTLP_HEADERS: `Authorization=${encodeURIComponent(auth)}`,
      OTEL_SERVICE_NAME: 'shop-api',
      OTEL_RESOURCE_ATTRIBUTES: `project.name=${project},service.version=1.4.2,deployment.environment.name=staging`,
      OTEL_NODE_RESOURCE_DETECTORS: 'env',
    });
  }, 60_000);

  it('exports without a single warning or error (OTEL_LOG_LEVEL=warn)', () => {
    expect(run.stderr).toBe('');
  });

  it('stores the span with its recorded exception as an event and its link', async () => {
    const [span] = await sql<Record<string, unknown>>(
      `SELECT trace_id, span_name, status_code, status_message, service_name, project_version, environment, attributes, events.name, events.attributes, events.timestamp, links.trace_id, links.span_id, links.attributes FROM telemetry.traces WHERE span_id = '${run.ids.spanId}'`,
    );
    expect(span).toMatchObject({
      trace_id: run.ids.traceId,
      span_name: 'checkout',
      status_code: 'ERROR',
      status_message: 'card declined',
      service_name: 'shop-api',
      project_version: '1.4.2',
      environment: 'staging',
      attributes: { 'cart.items': '3' },
      'events.name': ['exception'],
      'links.trace_id': [run.ids.linkedTraceId],
      'links.span_id': [run.ids.linkedSpanId],
      'links.attributes': [{ 'link.reason': 'follows' }],
    });
    const [event] = span?.['events.attributes'] as Array<Record<string, string>>;
    expect(event?.['exception.type']).toBe('TypeError');
    expect(event?.['exception.message']).toBe('card declined');
    expect(event?.['exception.stacktrace']).toMatch(/^TypeError: card declined\n\s+at /);
    const [eventTime] = span?.['events.timestamp'] as string[];
    expect(Math.abs(Date.parse(`${eventTime?.slice(0, 23)}Z`) - Date.now())).toBeLessThan(60_000);
  });

  it('stores the log line with its severity, body, attributes and the span it was written in', async () => {
    const rows = await sql<Record<string, unknown>>(`SELECT * EXCEPT (inserted_at, timestamp, observed_timestamp) FROM telemetry.logs WHERE project_name = '${project}'`);
    expect(rows).toEqual([
      {
        trace_id: run.ids.traceId,
        span_id: run.ids.spanId,
        severity_text: 'WARN',
        severity_number: 13,
        body: 'payment retried',
        service_name: 'shop-api',
        project_name: project,
        project_version: '1.4.2',
        environment: 'staging',
        attributes: expect.objectContaining({ attempt: '2', 'order.id': 'o-17' }) as unknown,
        scope_name: 'signals-test',
      },
    ]);
  });

  it('stores each instrument as its OTLP kind: monotonic sum, non-monotonic sum, histogram and gauge', async () => {
    const rows = await sql<Record<string, unknown>>(
      `SELECT metric_name, metric_type, value, count, sum, min, max, bucket_counts, explicit_bounds, is_monotonic, temporality, unit, description, attributes, service_name, scope_name
       FROM telemetry.metrics WHERE project_name = '${project}' ORDER BY metric_name, timestamp DESC LIMIT 1 BY metric_name`,
    );
    const byName = Object.fromEntries(rows.map((r) => [r.metric_name, r]));
    expect(Object.keys(byName)).toEqual(['checkout.latency', 'cpu.temperature', 'orders.placed', 'queue.depth']);
    expect(byName['orders.placed']).toMatchObject({ metric_type: 'sum', value: 3, is_monotonic: true, temporality: 'cumulative', unit: '{order}', description: 'orders placed', attributes: { region: 'eu' }, service_name: 'shop-api', scope_name: 'signals-test' });
    expect(byName['queue.depth']).toMatchObject({ metric_type: 'sum', value: -2, is_monotonic: false, temporality: 'cumulative' });
    expect(byName['cpu.temperature']).toMatchObject({ metric_type: 'gauge', value: 21.5, unit: 'Cel' });
    const latency = byName['checkout.latency'];
    expect(latency).toMatchObject({ metric_type: 'histogram', count: '2', sum: 92.5, min: 12.5, max: 80, unit: 'ms', temporality: 'cumulative' });
    const bounds = latency?.explicit_bounds as number[];
    const counts = (latency?.bucket_counts as string[]).map(Number);
    expect(counts).toHaveLength(bounds.length + 1);
    expect(counts[bounds.findIndex((b) => b >= 12.5)]).toBe(1);
    expect(counts[bounds.findIndex((b) => b >= 80)]).toBe(1);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(2);
  });
});
