import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedDatabase } from '../src/engine/embedded/database.js';
import { templatePath } from '../src/paths.js';
import { applySchema, loadSchemaFile } from '../src/schema/index.js';
import { otlpToRows } from '../src/transform/otlp-to-rows.js';
import { TRACE_COLUMNS, TRACE_NESTED_COLUMNS } from '../src/transform/row.js';

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
});
