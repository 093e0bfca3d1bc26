import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedDatabase } from '../src/engine/embedded/database.js';
import { templatePath } from '../src/paths.js';
import { applySchema, loadSchemaFile } from '../src/schema/index.js';
import { otlpToRows } from '../src/transform/otlp-to-rows.js';
import { LOG_COLUMNS, logsToRows } from '../src/transform/logs.js';
import { METRIC_COLUMNS, metricsToRows } from '../src/transform/metrics.js';
import { TRACE_COLUMNS, TRACE_NESTED_COLUMNS } from '../src/transform/row.js';
import type { OtlpDataPoint, OtlpMetric } from '../src/otlp/model.js';

let dir: string;
let db: EmbeddedDatabase;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'amt-route-'));
  db = await EmbeddedDatabase.open(join(dir, 'data'));
  await applySchema(db, 'telemetry');
  for (const statement of (await loadSchemaFile(templatePath('docker', 'otel-route.sql'), 'telemetry')).statements) await db.run(statement);
});
afterAll(async () => {
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the Docker stack's collector route", () => {
  it('turns a span as the ClickHouse exporter writes it (events and links too) into the same traces row as the embedded receiver', async () => {
    const startNs = BigInt(Date.now() - 60_000) * 1_000_000n + 123_456n;
    const endNs = startNs + 42_600_000n;
    const resource = { 'service.name': 'checkout', 'project.name': 'shop', 'service.version': '3.1.0', 'deployment.environment': 'prod', 'host.name': 'h1' };
    const spanAttributes = { 'http.route': '/pay', retries: '2' };
    const ts = new Date(Number(startNs / 1_000_000n)).toISOString().replace('T', ' ').replace('Z', '') + (startNs % 1_000_000n).toString().padStart(6, '0');
    const mapLiteral = (m: Record<string, string>) => `map(${Object.entries(m).map(([k, v]) => `'${k}', '${v}'`).join(', ')})`;
    await db.run(
      `INSERT INTO telemetry.otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, ResourceAttributes, SpanAttributes, Duration, StatusCode, StatusMessage,
         Events.Timestamp, Events.Name, Events.Attributes, Links.TraceId, Links.SpanId, Links.TraceState, Links.Attributes)
       VALUES ('${ts}', '5b8efff798038103d269b633813fc60c', 'eee19b7ec3c1b174', '', 'charge', 'Server', 'checkout', ${mapLiteral(resource)}, ${mapLiteral(spanAttributes)}, ${endNs - startNs}, 'Error', 'declined',
         ['${ts}'], ['exception'], [${mapLiteral({ 'exception.type': 'Error', 'exception.message': 'declined' })}], ['0af7651916cd43dd8448eb211c80319c'], ['b7ad6b7169203331'], [''], [${mapLiteral({ kind: 'retry' })}])`,
    );
    const out = (await db.run(`SELECT ${[...TRACE_COLUMNS, ...TRACE_NESTED_COLUMNS].join(', ')} FROM telemetry.traces WHERE span_id = 'eee19b7ec3c1b174' FORMAT JSONEachRow`)).trim();
    const viaCollector = JSON.parse(out) as Record<string, unknown>;

    const attr = (m: Record<string, string>) => m;
    const { rows } = otlpToRows({
      resourceSpans: [
        {
          resource: attr(resource),
          scopeSpans: [
            {
              scopeName: '',
              scopeVersion: '',
              spans: [
                {
                  traceId: Buffer.from('5b8efff798038103d269b633813fc60c', 'hex'),
                  spanId: Buffer.from('eee19b7ec3c1b174', 'hex'),
                  parentSpanId: new Uint8Array(),
                  name: 'charge',
                  kind: 2,
                  startTimeUnixNano: startNs,
                  endTimeUnixNano: endNs,
                  attributes: spanAttributes,
                  status: { code: 2, message: 'declined' },
                  events: [{ timeUnixNano: startNs, name: 'exception', attributes: { 'exception.type': 'Error', 'exception.message': 'declined' } }],
                  links: [{ traceId: Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex'), spanId: Buffer.from('b7ad6b7169203331', 'hex'), attributes: { kind: 'retry' } }],
                },
              ],
            },
          ],
        },
      ],
    });
    expect(viaCollector).toEqual(rows[0]);
  });

  const nanos = BigInt(Date.now() - 60_000) * 1_000_000n + 123_456_789n;
  const chTime = (ns: bigint) => `${new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19).replace('T', ' ')}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;
  const mapLiteral = (m: Record<string, string>) => `map(${Object.entries(m).map(([k, v]) => `'${k}', '${v}'`).join(', ')})`;
  const resource = { 'service.name': 'worker', 'project.name': 'shop', 'deployment.environment.name': 'prod', 'host.name': 'h2' };

  it('turns a log record as the exporter writes it into the same logs row as the embedded receiver', async () => {
    const attributes = { 'order.id': 'o-9' };
    await db.run(
      `INSERT INTO telemetry.otel_logs (Timestamp, TraceId, SpanId, SeverityText, SeverityNumber, ServiceName, Body, ResourceAttributes, ScopeName, LogAttributes)
       VALUES ('${chTime(nanos)}', '5b8efff798038103d269b633813fc60c', 'eee19b7ec3c1b174', '', 18, 'worker', 'retrying payment', ${mapLiteral(resource)}, 'billing', ${mapLiteral(attributes)})`,
    );
    const out = (await db.run(`SELECT ${LOG_COLUMNS.join(', ')} FROM telemetry.logs WHERE body = 'retrying payment' FORMAT JSONEachRow`)).trim();
    const { rows } = logsToRows({
      resourceLogs: [
        {
          resource,
          scopeLogs: [
            {
              scopeName: 'billing',
              scopeVersion: '',
              logRecords: [
                { timeUnixNano: nanos, observedTimeUnixNano: nanos, severityNumber: 18, severityText: '', body: 'retrying payment', attributes, traceId: Buffer.from('5b8efff798038103d269b633813fc60c', 'hex'), spanId: Buffer.from('eee19b7ec3c1b174', 'hex'), eventName: '' },
              ],
            },
          ],
        },
      ],
    });
    expect(JSON.parse(out)).toEqual(rows[0]);
    expect(rows[0]?.severity_text).toBe('ERROR2');
  });

  const point = (extra: Partial<OtlpDataPoint>): OtlpDataPoint => ({ attributes: { route: '/pay' }, startTimeUnixNano: nanos - 10_000_000_000n, timeUnixNano: nanos, flags: 0, ...extra });
  const kinds: Array<[string, string, string, OtlpMetric]> = [
    ['gauge', 'Value', '4.5', { name: 'm.gauge', description: 'd', unit: 'u', type: 'gauge', isMonotonic: false, temporality: 0, points: [point({ value: 4.5 })] }],
    ['sum', 'Value, AggregationTemporality, IsMonotonic', '7, 2, true', { name: 'm.sum', description: 'd', unit: 'u', type: 'sum', isMonotonic: true, temporality: 2, points: [point({ value: 7 })] }],
    [
      'histogram',
      'Count, Sum, Min, Max, BucketCounts, ExplicitBounds, AggregationTemporality',
      '3, 30, 1, 20, [1, 2], [10], 1',
      { name: 'm.hist', description: 'd', unit: 'u', type: 'histogram', isMonotonic: false, temporality: 1, points: [point({ count: 3n, sum: 30, min: 1, max: 20, bucketCounts: [1n, 2n], explicitBounds: [10] })] },
    ],
    [
      'exponential_histogram',
      'Count, Sum, Min, Max, Scale, ZeroCount, PositiveOffset, PositiveBucketCounts, NegativeOffset, NegativeBucketCounts, AggregationTemporality',
      '4, 12, 0, 8, 1, 1, -2, [1, 2], 0, [], 2',
      {
        name: 'm.exp',
        description: 'd',
        unit: 'u',
        type: 'exponential_histogram',
        isMonotonic: false,
        temporality: 2,
        points: [point({ count: 4n, sum: 12, min: 0, max: 8, scale: 1, zeroCount: 1n, positive: { offset: -2, bucketCounts: [1n, 2n] }, negative: { offset: 0, bucketCounts: [] } })],
      },
    ],
    ['summary', 'Count, Sum, ValueAtQuantiles.Quantile, ValueAtQuantiles.Value', '5, 50, [0.5, 0.9], [9, 14]', { name: 'm.sum.q', description: 'd', unit: 'u', type: 'summary', isMonotonic: false, temporality: 0, points: [point({ count: 5n, sum: 50, quantiles: [{ quantile: 0.5, value: 9 }, { quantile: 0.9, value: 14 }] })] }],
  ];
  it.each(kinds)('turns a %s point as the exporter writes it into the same metrics row as the embedded receiver', async (kind, columns, values, metric) => {
    await db.run(
      `INSERT INTO telemetry.otel_metrics_${kind} (ResourceAttributes, ScopeName, MetricName, MetricDescription, MetricUnit, Attributes, StartTimeUnix, TimeUnix, ${columns})
       VALUES (${mapLiteral(resource)}, 'meter', '${metric.name}', 'd', 'u', ${mapLiteral({ route: '/pay' })}, '${chTime(nanos - 10_000_000_000n)}', '${chTime(nanos)}', ${values})`,
    );
    const out = (await db.run(`SELECT ${METRIC_COLUMNS.join(', ')} FROM telemetry.metrics WHERE metric_name = '${metric.name}' FORMAT JSONEachRow`)).trim();
    const { rows } = metricsToRows({ resourceMetrics: [{ resource, scopeMetrics: [{ scopeName: 'meter', scopeVersion: '', metrics: [metric] }] }] });
    expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify(rows[0])));
  });
});