// Writes (or with --check, verifies) sdk-vectors.json: the calls both SDKs must map to the same OTLP/JSON and rows.
// Events and errors come from the TypeScript SDK's own code in dist/ (run `npm run build` first), so the file is what
// the TypeScript SDK does; logs and metrics are written out here from the OTLP JSON mapping and the table columns, and
// checked against what the TypeScript SDK's trackMetric/trackLog send for the same calls.
// Placeholders: "<span_id>" and "<trace_id>" (random ids), "<sdk_version>" (each SDK's version), "<any>" (a value
// that differs by language, such as a stack trace), "<observed_ns>"/"<observed_ts>" (when the SDK saw a log line).

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { makeEvent, buildRequest } = await import(join(root, 'dist/src/sdk/event.js'));
const { encodeTraceRequestJson } = await import(join(root, 'dist/src/otlp/json.js'));
const { otlpToRows } = await import(join(root, 'dist/src/transform/otlp-to-rows.js'));
const { makeMetric, makeLog, CounterTotals, buildMetricsRequest, buildLogsRequest } = await import(join(root, 'dist/src/sdk/signal-items.js'));
const { encodeMetricsRequestJson, encodeLogsRequestJson } = await import(join(root, 'dist/src/otlp/json.js'));

const shop = { project_name: 'shop', version: '1.4.2', environment: 'production' };
const bare = { project_name: 'bare' };
const T = '2026-01-02T03:04:05.678Z';
const T_NS = '1767323045678000000';
const T_TEXT9 = '2026-01-02 03:04:05.678000000';
const TRACE = '0123456789abcdef0123456789abcdef';
const SPAN = '0123456789abcdef';

/** The traces cases: the TypeScript SDK computes their expected values below. */
const traceCases = [
  { name: 'event with attributes of every kind', resource: shop, call: { kind: 'event', name: 'checkout.completed', attributes: { plan: 'pro', items: 3, total: 12.5, paid: true, tags: ['a', 'b'], meta: { k: 'v' }, skipped: null }, duration_ms: 1234.5, timestamp: T, trace_id: TRACE } },
  { name: 'bare event: defaults only', resource: bare, call: { kind: 'event', name: 'app.started', timestamp: T } },
  { name: 'error status with a message', resource: shop, call: { kind: 'event', name: 'job.run', status: 'error', status_message: 'disk full', duration_ms: 0.4, timestamp: T, trace_id: TRACE } },
  { name: 'event for another project', resource: shop, call: { kind: 'event', name: 'cron.tick', project_name: 'billing', timestamp: T, trace_id: TRACE } },
  { name: 'error', resource: shop, call: { kind: 'error', type: 'ValueError', message: 'bad input: quantity', attributes: { route: '/cart' }, timestamp: T, trace_id: TRACE } },
];

function tsOutput(c) {
  const resource = { projectName: c.resource.project_name, version: c.resource.version ?? '', environment: c.resource.environment ?? '', serviceName: c.resource.project_name };
  const call = c.call;
  const options = { durationMs: call.duration_ms, status: call.status, statusMessage: call.status_message, timestamp: call.timestamp, traceId: call.trace_id, projectName: call.project_name };
  let event;
  if (call.kind === 'error') {
    // As AutomagikTelemetry.trackError builds it: exception.* attributes, and the same as its "exception" span event.
    const e = new Error(call.message);
    e.name = call.type;
    const exception = { 'exception.type': e.name, 'exception.message': e.message, 'exception.stacktrace': e.stack ?? '' };
    event = makeEvent('error', { ...exception, ...call.attributes }, { ...options, status: 'error', statusMessage: e.message });
    event.exception = exception;
  } else {
    event = makeEvent(call.name, call.attributes, options);
  }
  const request = buildRequest([event], resource, '<sdk_version>');
  const otlp = JSON.parse(encodeTraceRequestJson(request));
  const rows = otlpToRows(request).rows;
  const fix = (o) => {
    if (o.spanId) o.spanId = '<span_id>';
    if (o.span_id) o.span_id = '<span_id>';
    if (!call.trace_id && o.traceId) o.traceId = '<trace_id>';
    if (!call.trace_id && o.trace_id) o.trace_id = '<trace_id>';
  };
  for (const rs of otlp.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) {
    fix(s);
    for (const a of [...s.attributes, ...(s.events ?? []).flatMap((ev) => ev.attributes)]) if (a.key === 'exception.stacktrace') a.value.stringValue = '<any>';
  }
  for (const r of rows) {
    fix(r);
    for (const attributes of [r.attributes, ...(r['events.attributes'] ?? [])]) if ('exception.stacktrace' in attributes) attributes['exception.stacktrace'] = '<any>';
  }
  return { otlp, rows };
}

const kv = (o) => Object.entries(o).map(([key, value]) => ({ key, value: { stringValue: value } }));
const shopResource = { attributes: kv({ 'service.name': 'shop', 'project.name': 'shop', 'project.version': '1.4.2', 'deployment.environment.name': 'production' }) };
const scope = { name: 'automagik-telemetry', version: '<sdk_version>' };
const columns = { service_name: 'shop', project_name: 'shop', project_version: '1.4.2', environment: 'production' };
const BOUNDS = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];
const metricRow = (extra) => ({
  timestamp: T_TEXT9, metric_name: '', metric_type: '', value: 0, count: 0, sum: 0, min: null, max: null, bucket_counts: [], explicit_bounds: [],
  is_monotonic: 0, temporality: '', unit: '', description: '', ...columns, attributes: {}, ...extra,
});
const metrics = (m) => ({ resourceMetrics: [{ resource: shopResource, scopeMetrics: [{ scope, metrics: [m] }] }] });
const logs = (r) => ({ resourceLogs: [{ resource: shopResource, scopeLogs: [{ scope, logRecords: [r] }] }] });
const logRow = (extra) => ({
  timestamp: T_TEXT9, observed_timestamp: '<observed_ts>', trace_id: '', span_id: '', severity_text: 'INFO', severity_number: 9, body: '',
  ...columns, attributes: {}, scope_name: 'automagik-telemetry', ...extra,
});

/** Logs and metrics: the OTLP spec's JSON mapping and the telemetry.logs / telemetry.metrics columns. */
const signalCases = [
  {
    name: 'gauge', resource: shop, call: { kind: 'metric', name: 'queue.depth', value: 42, type: 'gauge', unit: '{items}', attributes: { queue: 'emails' }, timestamp: T },
    otlp: metrics({ name: 'queue.depth', unit: '{items}', gauge: { dataPoints: [{ attributes: kv({ queue: 'emails' }), timeUnixNano: T_NS, asDouble: 42 }] } }),
    rows: [metricRow({ metric_name: 'queue.depth', metric_type: 'gauge', value: 42, unit: '{items}', attributes: { queue: 'emails' } })],
  },
  {
    name: 'counter: a monotonic cumulative sum', resource: shop, call: { kind: 'metric', name: 'orders.placed', value: 3, type: 'counter', timestamp: T },
    otlp: metrics({ name: 'orders.placed', sum: { dataPoints: [{ attributes: [], timeUnixNano: T_NS, startTimeUnixNano: T_NS, asDouble: 3 }], aggregationTemporality: 2, isMonotonic: true } }),
    rows: [metricRow({ metric_name: 'orders.placed', metric_type: 'sum', value: 3, is_monotonic: 1, temporality: 'cumulative' })],
  },
  {
    name: 'histogram: one observation', resource: shop, call: { kind: 'metric', name: 'http.server.duration', value: 37.5, type: 'histogram', unit: 'ms', attributes: { route: '/cart' }, timestamp: T },
    otlp: metrics({
      name: 'http.server.duration', unit: 'ms',
      histogram: {
        dataPoints: [{ attributes: kv({ route: '/cart' }), timeUnixNano: T_NS, startTimeUnixNano: T_NS, count: '1', sum: 37.5, min: 37.5, max: 37.5, bucketCounts: ['0', '0', '0', '0', '1', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0'], explicitBounds: BOUNDS }],
        aggregationTemporality: 1,
      },
    }),
    rows: [metricRow({ metric_name: 'http.server.duration', metric_type: 'histogram', value: 0, count: 1, sum: 37.5, min: 37.5, max: 37.5, bucket_counts: [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], explicit_bounds: BOUNDS, temporality: 'delta', unit: 'ms', attributes: { route: '/cart' } })],
  },
  {
    name: 'log with a trace', resource: shop, call: { kind: 'log', message: 'payment declined', severity: 'warn', attributes: { order: 'A-17' }, trace_id: TRACE, span_id: SPAN, timestamp: T },
    otlp: logs({ timeUnixNano: T_NS, observedTimeUnixNano: '<observed_ns>', severityNumber: 13, severityText: 'WARN', body: { stringValue: 'payment declined' }, attributes: kv({ order: 'A-17' }), traceId: TRACE, spanId: SPAN }),
    rows: [logRow({ trace_id: TRACE, span_id: SPAN, severity_text: 'WARN', severity_number: 13, body: 'payment declined', attributes: { order: 'A-17' } })],
  },
  {
    name: 'log: fatal, no trace', resource: shop, call: { kind: 'log', message: 'out of memory', severity: 'fatal', timestamp: T },
    otlp: logs({ timeUnixNano: T_NS, observedTimeUnixNano: '<observed_ns>', severityNumber: 21, severityText: 'FATAL', body: { stringValue: 'out of memory' }, attributes: [] }),
    rows: [logRow({ severity_text: 'FATAL', severity_number: 21, body: 'out of memory' })],
  },
];

/** What the TypeScript SDK's trackMetric/trackLog make of a hand-written case's call, as OTLP/JSON. */
function tsSignalOtlp(c) {
  const resource = { projectName: c.resource.project_name, version: c.resource.version ?? '', environment: c.resource.environment ?? '', serviceName: c.resource.project_name };
  const call = c.call;
  if (call.kind === 'metric') {
    const item = makeMetric(call.name, call.value, { type: call.type, unit: call.unit, attributes: call.attributes, timestamp: call.timestamp }, new CounterTotals());
    return JSON.parse(encodeMetricsRequestJson(buildMetricsRequest([item], resource, '<sdk_version>')));
  }
  const item = makeLog(call.message, { severity: call.severity, attributes: call.attributes, traceId: call.trace_id, spanId: call.span_id, timestamp: call.timestamp });
  const otlp = JSON.parse(encodeLogsRequestJson(buildLogsRequest([item], resource, '<sdk_version>')));
  for (const rl of otlp.resourceLogs) for (const sl of rl.scopeLogs) for (const r of sl.logRecords) r.observedTimeUnixNano = '<observed_ns>';
  return otlp;
}

// The hand-written log and metric cases must also be what the TypeScript SDK sends (their rows are checked against
// the real engine by test/sdk-signals.test.ts).
// Compared as protobuf JSON parsers read them: key order aside, and a 64-bit zero the same as an absent field.
const canonical = (value) =>
  Array.isArray(value)
    ? value.map(canonical)
    : value && typeof value === 'object'
      ? Object.fromEntries(Object.keys(value).filter((k) => value[k] !== '0').sort().map((k) => [k, canonical(value[k])]))
      : value;
const differing = signalCases.filter((c) => JSON.stringify(canonical(tsSignalOtlp(c))) !== JSON.stringify(canonical(c.otlp)));
if (differing.length > 0) {
  for (const c of differing) console.error(`${c.name}: the TypeScript SDK sends ${JSON.stringify(tsSignalOtlp(c))}\n  the vector says ${JSON.stringify(c.otlp)}`);
  process.exit(1);
}

const vectors = [...traceCases.map((c) => ({ ...c, ...tsOutput(c) })), ...signalCases];
const file = join(root, 'test-vectors/sdk-vectors.json');
const text = `${JSON.stringify(vectors, null, 2)}\n`;
if (process.argv.includes('--check')) {
  const current = readFileSync(file, 'utf8');
  if (current !== text) {
    console.error('test-vectors/sdk-vectors.json is not what the TypeScript SDK produces: run `node test-vectors/generate.mjs` and review the diff');
    process.exit(1);
  }
  console.log(`sdk-vectors.json matches the TypeScript SDK (${vectors.length} cases)`);
} else {
  writeFileSync(file, text);
  console.log(`wrote ${file} (${vectors.length} cases)`);
}
