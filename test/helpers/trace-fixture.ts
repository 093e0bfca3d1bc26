import { runStatement, type ClickHouseConnection } from '../../src/clickhouse/http-client.js';
import { formatTimestamp } from '../../src/transform/row.js';
import type { RunningStack } from './stack.js';

/** The columns and table schema v2 adds, exactly as specified, so the explorer's v2 parts can be tested on a v1 store. */
export const V2_DDL = [
  "ALTER TABLE telemetry.traces ADD COLUMN IF NOT EXISTS events Nested(timestamp DateTime64(9,'UTC'), name String, attributes Map(String,String))",
  'ALTER TABLE telemetry.traces ADD COLUMN IF NOT EXISTS links Nested(trace_id String, span_id String, attributes Map(String,String))',
  `CREATE TABLE IF NOT EXISTS telemetry.logs (
     timestamp DateTime64(9, 'UTC'), observed_timestamp DateTime64(9, 'UTC'), trace_id String, span_id String,
     severity_text LowCardinality(String), severity_number UInt8, body String, service_name LowCardinality(String),
     project_name LowCardinality(String), project_version LowCardinality(String), environment LowCardinality(String),
     attributes Map(String, String), scope_name String
   ) ENGINE = MergeTree ORDER BY (service_name, timestamp)`,
];

export const CHECKOUT = '0af7651916cd43dd8448eb211c80319c';
export const HEALTH = '4bf92f3577b34da6a3ce929d0e0e4736';
export const IMPORT = '5c8a0d7e1f2b4c3d9e8f7a6b5c4d3e2f';
export const STACK_TRACE = 'CardError: card declined\n    at charge (payments/charge.js:41:11)\n    at checkout (shop/checkout.js:12:3)';

interface SeedSpan {
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  start: number;
  duration_ms: number;
  service_name: string;
  span_name: string;
  status_code?: 'OK' | 'ERROR';
  status_message?: string;
  project_name: string;
  environment: string;
  attributes?: Record<string, string>;
  events?: Array<{ timestamp: number; name: string; attributes: Record<string, string> }>;
  links?: Array<{ trace_id: string; span_id: string; attributes: Record<string, string> }>;
}

const hex16 = (n: number) => n.toString(16).padStart(16, '0');

/**
 * checkout: GET /checkout (shop, prod, 120 ms) > charge card (payments, ERROR, exception event, link to the health trace)
 *   > db.query; and render. health: GET /health (shop, staging, 5 ms) > ping. import: batch.import (importer, etl)
 *   with 99 chunks of 100 rows each: 10,000 spans.
 */
export function fixtureSpans(t0: number, withV2: boolean): SeedSpan[] {
  const shop = { service_name: 'shop', project_name: 'shop', environment: 'prod' };
  const spans: SeedSpan[] = [
    { trace_id: CHECKOUT, span_id: 'a000000000000001', parent_span_id: '', start: t0, duration_ms: 120, ...shop, span_name: 'GET /checkout', attributes: { 'http.method': 'GET', 'user.id': 'u-42' } },
    {
      trace_id: CHECKOUT, span_id: 'a000000000000002', parent_span_id: 'a000000000000001', start: t0 + 10, duration_ms: 80, service_name: 'payments', project_name: 'shop', environment: 'prod',
      span_name: 'charge card', status_code: 'ERROR', status_message: 'card declined by the issuer after three retries with a very long explanation', attributes: { 'card.brand': 'visa', 'order.id': 'ord-1234' },
      events: withV2 ? [{ timestamp: t0 + 85, name: 'exception', attributes: { 'exception.type': 'CardError', 'exception.message': 'card declined', 'exception.stacktrace': STACK_TRACE } }] : [],
      links: withV2 ? [{ trace_id: HEALTH, span_id: 'b000000000000001', attributes: { reason: 'retry after health check' } }] : [],
    },
    { trace_id: CHECKOUT, span_id: 'a000000000000003', parent_span_id: 'a000000000000002', start: t0 + 20, duration_ms: 30, ...shop, service_name: 'payments', span_name: 'db.query', attributes: { 'db.statement': 'SELECT * FROM cards WHERE id = ?' } },
    { trace_id: CHECKOUT, span_id: 'a000000000000004', parent_span_id: 'a000000000000001', start: t0 + 95, duration_ms: 20, ...shop, span_name: 'render', attributes: {} },
    { trace_id: HEALTH, span_id: 'b000000000000001', parent_span_id: '', start: t0 - 5 * 60_000, duration_ms: 5, ...shop, environment: 'staging', span_name: 'GET /health', attributes: { 'http.method': 'GET' } },
    { trace_id: HEALTH, span_id: 'b000000000000002', parent_span_id: 'b000000000000001', start: t0 - 5 * 60_000 + 1, duration_ms: 3, ...shop, environment: 'staging', span_name: 'ping', attributes: {} },
  ];
  const etl = { trace_id: IMPORT, service_name: 'importer', project_name: 'etl', environment: 'prod' };
  const start = t0 - 10 * 60_000;
  spans.push({ ...etl, span_id: hex16(0xc000000000000), parent_span_id: '', start, duration_ms: 5_000, span_name: 'batch.import', attributes: { 'batch.size': '9900' } });
  for (let c = 1; c <= 99; c++) {
    const chunk = hex16(0xc000000000000 + c * 1000);
    spans.push({ ...etl, span_id: chunk, parent_span_id: hex16(0xc000000000000), start: start + (c - 1) * 50, duration_ms: 50, span_name: `chunk ${c}`, attributes: { chunk: String(c) } });
    for (let r = 1; r <= 100; r++) {
      spans.push({ ...etl, span_id: hex16(0xc000000000000 + c * 1000 + r), parent_span_id: chunk, start: start + (c - 1) * 50 + Math.floor(r / 2), duration_ms: 1, span_name: 'row', attributes: { row: String(r) } });
    }
  }
  return spans;
}

const nano = (ms: number) => `${formatTimestamp(ms)}000000`;

function toRow(span: SeedSpan, withV2: boolean): Record<string, unknown> {
  const row: Record<string, unknown> = {
    trace_id: span.trace_id, span_id: span.span_id, parent_span_id: span.parent_span_id, timestamp: formatTimestamp(span.start), service_name: span.service_name,
    span_name: span.span_name, span_kind: 'INTERNAL', status_code: span.status_code ?? 'OK', status_message: span.status_message ?? '', duration_ms: span.duration_ms,
    project_name: span.project_name, project_version: '1.0.0', environment: span.environment, attributes: span.attributes ?? {},
  };
  if (withV2) {
    row['events.timestamp'] = (span.events ?? []).map((e) => nano(e.timestamp));
    row['events.name'] = (span.events ?? []).map((e) => e.name);
    row['events.attributes'] = (span.events ?? []).map((e) => e.attributes);
    row['links.trace_id'] = (span.links ?? []).map((l) => l.trace_id);
    row['links.span_id'] = (span.links ?? []).map((l) => l.span_id);
    row['links.attributes'] = (span.links ?? []).map((l) => l.attributes);
  }
  return row;
}

export function stackConnection(stack: RunningStack): ClickHouseConnection {
  return { url: stack.vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT ?? '', ...stack.roles.admin, database: 'telemetry' };
}

/** Seeds the three traces (and, with v2, the schema v2 columns, the exception event, the link and a log in the checkout trace). */
export async function seedTraces(stack: RunningStack, t0: number, withV2: boolean): Promise<void> {
  const connection = stackConnection(stack);
  if (withV2) for (const ddl of V2_DDL) await runStatement(connection, ddl);
  const body = fixtureSpans(t0, withV2).map((s) => JSON.stringify(toRow(s, withV2))).join('\n');
  await runStatement(connection, 'INSERT INTO telemetry.traces FORMAT JSONEachRow', { data: `${body}\n` });
  if (withV2) {
    const log = {
      timestamp: nano(t0 + 60), observed_timestamp: nano(t0 + 61), trace_id: CHECKOUT, span_id: 'a000000000000003', severity_text: 'ERROR', severity_number: 17,
      body: 'payment failed for order ord-1234', service_name: 'payments', project_name: 'shop', project_version: '1.0.0', environment: 'prod', attributes: { 'order.id': 'ord-1234' }, scope_name: 'payments.charge',
    };
    await runStatement(connection, 'INSERT INTO telemetry.logs FORMAT JSONEachRow', { data: `${JSON.stringify(log)}\n` });
  }
}
