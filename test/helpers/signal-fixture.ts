import { CHECKOUT } from './trace-fixture.js';
import type { RunningStack } from './stack.js';

const MIN = 60_000;
const nanos = (ms: number) => `${BigInt(Math.round(ms)) * 1_000_000n}`;
const attrs = (o: Record<string, string>) => Object.entries(o).map(([key, value]) => ({ key, value: { stringValue: value } }));

/** The log records seeded, newest first as /logs shows them (project shop unless said). */
export const SEEDED_LOGS = [
  { body: 'slow query on cards', severity: 'WARN', service: 'payments', ago: 7 * MIN, attributes: { 'db.table': 'cards' } },
  { body: 'cache miss for user u-42', severity: 'DEBUG', service: 'shop', ago: 8 * MIN, attributes: { 'user.id': 'u-42' } },
  { body: 'payment declined', severity: 'ERROR', service: 'payments', ago: 9 * MIN, attributes: { 'card.brand': 'visa' }, trace: CHECKOUT },
  { body: 'order placed', severity: 'INFO', service: 'shop', ago: 10 * MIN, attributes: { 'order.id': 'ord-1' } },
  { body: 'nightly export done', severity: 'INFO', service: 'exporter', ago: 3 * 60 * MIN, attributes: {} },
] as const;

const SEVERITY_NUMBERS: Record<string, number> = { DEBUG: 5, INFO: 9, WARN: 13, ERROR: 17 };

/** One OTLP/JSON log record per entry, each under a resource naming its service and the shop project. */
export function logsRequest(now: number, entries: ReadonlyArray<{ body: string; severity: string; service: string; ago: number; attributes: Readonly<Record<string, string>>; trace?: string }>): unknown {
  return {
    resourceLogs: entries.map((e) => ({
      resource: { attributes: attrs({ 'service.name': e.service, 'project.name': 'shop', 'deployment.environment': 'prod' }) },
      scopeLogs: [{
        scope: { name: 'fixture' },
        logRecords: [{
          timeUnixNano: nanos(now - e.ago), observedTimeUnixNano: nanos(now - e.ago), severityNumber: SEVERITY_NUMBERS[e.severity], severityText: e.severity,
          body: { stringValue: e.body }, attributes: attrs(e.attributes), ...(e.trace ? { traceId: e.trace, spanId: 'a000000000000002' } : {}),
        }],
      }],
    })),
  };
}

/** Minutes back of the ten data points each metric has: 10, 9, ..., 1. */
const AGO = Array.from({ length: 10 }, (_, i) => (10 - i) * MIN);
/** http.duration's bucket bounds (ms) and each point's counts: 100 observations, p50 36.67, p95 300, p99 460. */
export const HISTOGRAM_BOUNDS = [10, 50, 100, 500];
export const HISTOGRAM_COUNTS = [10, 60, 20, 10, 0];

/**
 * Three metrics of project shop, one point a minute for ten minutes: queue.depth, a gauge split by `queue` (emails i,
 * sms 10 + i at the i-th point); http.requests, a cumulative monotonic counter split by `route` (/a +60 a minute = 1/s,
 * /b +120 a minute = 2/s); http.duration, a delta histogram with the same bucket counts each minute.
 */
export function metricsRequest(now: number): unknown {
  const start = now - 11 * MIN;
  const gauge = (queue: string, base: number) => AGO.map((ago, i) => ({ timeUnixNano: nanos(now - ago), asDouble: base + i, attributes: attrs({ queue }) }));
  const counter = (route: string, perMinute: number) => AGO.map((ago, i) => ({ startTimeUnixNano: nanos(start), timeUnixNano: nanos(now - ago), asDouble: perMinute * i, attributes: attrs({ route }) }));
  const histogram = AGO.map((ago) => ({
    startTimeUnixNano: nanos(now - ago - MIN), timeUnixNano: nanos(now - ago), count: '100', sum: 9000, min: 1, max: 480,
    bucketCounts: HISTOGRAM_COUNTS.map(String), explicitBounds: HISTOGRAM_BOUNDS, attributes: attrs({ route: '/a' }),
  }));
  return {
    resourceMetrics: [{
      resource: { attributes: attrs({ 'service.name': 'shop', 'project.name': 'shop', 'deployment.environment': 'prod' }) },
      scopeMetrics: [{
        scope: { name: 'fixture' },
        metrics: [
          { name: 'queue.depth', unit: '{job}', gauge: { dataPoints: [...gauge('emails', 0), ...gauge('sms', 10)] } },
          { name: 'http.requests', unit: '{request}', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [...counter('/a', 60), ...counter('/b', 120)] } },
          { name: 'http.duration', unit: 'ms', histogram: { aggregationTemporality: 1, dataPoints: histogram } },
        ],
      }],
    }],
  };
}

/** POSTs an OTLP/JSON request to the stack's receiver with the app's (ingest) credential. */
export async function postOtlp(stack: RunningStack, signal: 'logs' | 'metrics', body: unknown): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${stack.home.env.AUTOMAGIK_TELEMETRY_OTLP_PORT}/v1/${signal}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', Authorization: stack.auth('ingest') },
  });
  if (res.status !== 200) throw new Error(`POST /v1/${signal}: ${res.status} ${await res.text()}`);
}

/** Seeds SEEDED_LOGS and the three metrics, relative to `now`. */
export async function seedSignals(stack: RunningStack, now: number): Promise<void> {
  await postOtlp(stack, 'logs', logsRequest(now, SEEDED_LOGS));
  await postOtlp(stack, 'metrics', metricsRequest(now));
}
