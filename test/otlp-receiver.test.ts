import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config/index.js';
import { startEmbeddedServer, type RunningEmbeddedServer } from '../src/engine/embedded/server.js';
import { configFor, makeTestHome, type TestHome } from './helpers/home.js';
import { emitSpan } from './helpers/otel.js';
import { recentNanos } from './helpers/time.js';
import { basicAuthorization } from '../src/clickhouse/auth-header.js';

let home: TestHome;
let config: Config;
let server: RunningEmbeddedServer;
let auth: string;
let tracesUrl: string;

beforeAll(async () => {
  home = await makeTestHome({ AUTOMAGIK_TELEMETRY_MAX_BODY_MB: '1' });
  config = await configFor(home);
  server = await startEmbeddedServer(config);
  auth = basicAuthorization({ username: 'telemetry', password: config.auth.roles.admin.password ?? '' });
  tracesUrl = `http://127.0.0.1:${config.ports.otlp}/v1/traces`;
});

afterAll(async () => {
  await server?.close();
  await home?.cleanup();
});

async function sql<T>(query: string): Promise<T[]> {
  const res = await fetch(`http://127.0.0.1:${config.ports.clickhouse}/?default_format=JSONEachRow`, {
    method: 'POST',
    body: query,
    headers: { Authorization: auth },
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(text);
  return text.trim() === '' ? [] : text.trim().split('\n').map((l) => JSON.parse(l) as T);
}

function post(body: string | Buffer, headers: Record<string, string>) {
  return fetch(tracesUrl, { method: 'POST', body, headers: { Authorization: auth, ...headers } });
}

function jsonRequest(spans: Array<Record<string, unknown>>, project = 'json-direct') {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'direct' } }, { key: 'project.name', value: { stringValue: project } }] },
        scopeSpans: [{ scope: { name: 'test' }, spans }],
      },
    ],
  });
}

const start = recentNanos();
const goodSpan = (spanId: string, name: string) => ({
  traceId: '5b8efff798038103d269b633813fc60c',
  spanId,
  name,
  kind: 2,
  startTimeUnixNano: start,
  endTimeUnixNano: `${BigInt(start) + 250_000_000n}`,
  attributes: [{ key: 'http.status_code', value: { intValue: '200' } }],
});

describe('an app exporting spans with the official OpenTelemetry exporters', () => {
  it('lands a protobuf span as a traces row with every column filled from the span and its resource', async () => {
    const span = await emitSpan({
      url: tracesUrl,
      encoding: 'protobuf',
      headers: { Authorization: auth },
      resource: { 'service.name': 'checkout', 'project.name': 'shop', 'project.version': '1.2.3', 'deployment.environment': 'staging', 'host.name': 'box1' },
      name: 'charge.card',
      attributes: { 'payment.method': 'visa', amount: 42, retried: false, tags: ['a', 'b'] },
      error: 'card declined',
      durationMs: 125,
    });
    const rows = await sql<Record<string, unknown>>(`SELECT * FROM telemetry.traces WHERE span_id = '${span.spanId}'`);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      trace_id: span.traceId,
      span_id: span.spanId,
      service_name: 'checkout',
      span_name: 'charge.card',
      span_kind: 'INTERNAL',
      status_code: 'ERROR',
      status_message: 'card declined',
      duration_ms: 125,
      project_name: 'shop',
      project_version: '1.2.3',
      environment: 'staging',
      attributes: { 'payment.method': 'visa', amount: '42', retried: 'false', tags: '["a","b"]', 'host.name': 'box1' },
    });
  });

  it('lands a JSON span from the OTLP/HTTP JSON exporter, using service.name as the project when none is named', async () => {
    const span = await emitSpan({
      url: tracesUrl,
      encoding: 'json',
      headers: { Authorization: auth },
      resource: { 'service.name': 'billing', 'service.version': '9.0.0' },
      name: 'invoice.render',
      durationMs: 40,
    });
    const rows = await sql<Record<string, unknown>>(`SELECT project_name, project_version, status_code, duration_ms FROM telemetry.traces WHERE span_id = '${span.spanId}'`);
    expect(rows).toEqual([{ project_name: 'billing', project_version: '9.0.0', status_code: 'OK', duration_ms: 40 }]);
  });

  it('is refused with a wrong password: the exporter reports the failure', async () => {
    await expect(
      emitSpan({ url: tracesUrl, encoding: 'protobuf', headers: { Authorization: basicAuthorization({ username: 'telemetry', password: 'wrong' }) }, resource: { 'service.name': 'x' }, name: 'nope' }),
    ).rejects.toBeTruthy();
    const res = await fetch(tracesUrl, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } });
    expect(res.status).toBe(401);
  });
});

describe('the OTLP receiver facing bad input', () => {
  it('stores the good spans of a request and reports the rejected ones as partial success', async () => {
    const res = await post(jsonRequest([goodSpan('1111111111111111', 'good.one'), { ...goodSpan('22', 'bad.id') }, goodSpan('3333333333333333', 'good.two')], 'partial'), {
      'Content-Type': 'application/json',
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { partialSuccess?: { rejectedSpans: string; errorMessage: string } };
    expect(body.partialSuccess?.rejectedSpans).toBe('1');
    expect(body.partialSuccess?.errorMessage).toMatch(/span 1 \("bad\.id"\): span_id must be 8 non-zero bytes/);
    const rows = await sql<{ span_name: string }>("SELECT span_name FROM telemetry.traces WHERE project_name = 'partial' ORDER BY span_name");
    expect(rows.map((r) => r.span_name)).toEqual(['good.one', 'good.two']);
  });

  it('answers a full success with an empty ExportTraceServiceResponse', async () => {
    const res = await post(gzipSync(jsonRequest([goodSpan('4444444444444444', 'gzipped')], 'gz')), { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    expect(await sql("SELECT 1 FROM telemetry.traces WHERE project_name = 'gz'")).toHaveLength(1);
  });

  it('answers 400 naming the field when JSON has a wrong type', async () => {
    const res = await post(jsonRequest([{ ...goodSpan('5555555555555555', 'typed'), startTimeUnixNano: 'yesterday' }]), { 'Content-Type': 'application/json' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe(
      '$.resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano: expected an integer or a string of digits, got "yesterday"',
    );
  });

  it('answers 400 for a truncated protobuf body', async () => {
    const res = await post(Buffer.from([0x0a, 0x20, 0x0a, 0x1e, 0x0a]), { 'Content-Type': 'application/x-protobuf' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
  });

  it('answers 400 for a body that claims gzip but is not', async () => {
    const res = await post('plainly not gzip', { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
    expect(res.status).toBe(400);
  });

  it('answers 415 for other content types', async () => {
    const res = await post('hello', { 'Content-Type': 'text/plain' });
    expect(res.status).toBe(415);
  });

  it('answers 413 above the configured body limit (1 MB here), also when the limit is only passed once decompressed', async () => {
    const big = jsonRequest([{ ...goodSpan('6666666666666666', 'big'), attributes: [{ key: 'blob', value: { stringValue: 'x'.repeat(1_200_000) } }] }]);
    expect((await post(big, { 'Content-Type': 'application/json' })).status).toBe(413);
    expect((await post(gzipSync(big), { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' })).status).toBe(413);
  });

  it('keeps everything stored before the bad requests, and keeps serving', async () => {
    const rows = await sql<{ n: string }>("SELECT count() AS n FROM telemetry.traces WHERE project_name IN ('partial', 'gz', 'shop')");
    expect(rows).toEqual([{ n: '4' }]);
    const res = await post(jsonRequest([goodSpan('7777777777777777', 'after')], 'after'), { 'Content-Type': 'application/json' });
    expect(res.status).toBe(200);
  });
});
