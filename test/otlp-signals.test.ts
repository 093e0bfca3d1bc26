import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config/index.js';
import { startEmbeddedServer, type RunningEmbeddedServer } from '../src/engine/embedded/server.js';
import { encodeLogsRequestJson, encodeMetricsRequestJson } from '../src/otlp/json.js';
import type { OtlpLogsRequest, OtlpMetricsRequest } from '../src/otlp/model.js';
import { decodeExportResponse, encodeLogsRequest, encodeMetricsRequest } from '../src/otlp/protobuf.js';
import { grpcExportPath, type Signal } from '../src/otlp/types.js';
import { configFor, makeTestHome, type TestHome } from './helpers/home.js';
import { recentNanos } from './helpers/time.js';
import { basicAuthorization } from '../src/clickhouse/auth-header.js';

let home: TestHome;
let config: Config;
let server: RunningEmbeddedServer;
let auth: string;

beforeAll(async () => {
  home = await makeTestHome({ AUTOMAGIK_TELEMETRY_MAX_BODY_MB: '1' });
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

function post(path: string, body: string | Buffer | Uint8Array, headers: Record<string, string> = { 'Content-Type': 'application/json' }) {
  return fetch(`http://127.0.0.1:${config.ports.otlp}${path}`, { method: 'POST', body, headers: { Authorization: auth, ...headers } });
}

const t = recentNanos();
const t0 = `${BigInt(t) - 60_000_000_000n}`;
const resource = (project: string) => ({ attributes: [{ key: 'service.name', value: { stringValue: 'raw-svc' } }, { key: 'project.name', value: { stringValue: project } }] });

describe('every OTLP metric kind, sent as raw OTLP/JSON with protobuf field names and enum names', () => {
  it('stores gauge, monotonic and non-monotonic sum, histogram, exponential histogram and summary points field by field', async () => {
    // Original (snake_case) field names and enum names: what protobuf JSON parsers accept besides lowerCamelCase.
    const body = {
      resource_metrics: [
        {
          resource: resource('kinds'),
          scope_metrics: [
            {
              scope: { name: 'raw' },
              metrics: [
                { name: 'temp', unit: 'Cel', gauge: { data_points: [{ time_unix_nano: t, as_int: '-4', attributes: [{ key: 'room', value: { string_value: 'lab' } }] }] } },
                { name: 'requests', sum: { aggregation_temporality: 'AGGREGATION_TEMPORALITY_DELTA', is_monotonic: true, data_points: [{ start_time_unix_nano: t0, time_unix_nano: t, as_double: 7.5 }] } },
                { name: 'inflight', sum: { aggregation_temporality: 2, is_monotonic: false, data_points: [{ time_unix_nano: t, as_double: -3 }] } },
                {
                  name: 'latency',
                  histogram: {
                    aggregation_temporality: 'AGGREGATION_TEMPORALITY_CUMULATIVE',
                    data_points: [{ time_unix_nano: t, count: '6', sum: 310.5, min: 1, max: 200, bucket_counts: ['1', '2', '3'], explicit_bounds: [10, 100] }],
                  },
                },
                {
                  name: 'size',
                  exponential_histogram: {
                    aggregation_temporality: 1,
                    data_points: [{ time_unix_nano: t, count: 5, sum: 40, scale: 2, zero_count: '1', positive: { offset: -1, bucket_counts: ['1', '2'] }, negative: { offset: 3, bucket_counts: [1] }, min: 0, max: 16 }],
                  },
                },
                { name: 'rtt', summary: { data_points: [{ time_unix_nano: t, count: '4', sum: 10, quantile_values: [{ quantile: 0.5, value: 2 }, { quantile: 0.99, value: 4.5 }] }] } },
              ],
            },
          ],
        },
      ],
    };
    const res = await post('/v1/metrics', JSON.stringify(body));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    const rows = await sql<Record<string, unknown>>(
      "SELECT metric_name, metric_type, value, count, sum, min, max, bucket_counts, explicit_bounds, exp_scale, exp_zero_count, exp_positive_offset, exp_positive_counts, exp_negative_offset, exp_negative_counts, quantiles, is_monotonic, temporality, unit, attributes, service_name, scope_name, start_timestamp FROM telemetry.metrics WHERE project_name = 'kinds' ORDER BY metric_name",
    );
    const byName = Object.fromEntries(rows.map((r) => [r.metric_name, r]));
    expect(byName.temp).toMatchObject({ metric_type: 'gauge', value: -4, unit: 'Cel', attributes: { room: 'lab' }, service_name: 'raw-svc', scope_name: 'raw' });
    expect(byName.requests).toMatchObject({ metric_type: 'sum', value: 7.5, is_monotonic: true, temporality: 'delta' });
    expect(String(byName.requests?.start_timestamp)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}$/);
    expect(byName.inflight).toMatchObject({ metric_type: 'sum', value: -3, is_monotonic: false, temporality: 'cumulative' });
    expect(byName.latency).toMatchObject({ metric_type: 'histogram', count: '6', sum: 310.5, min: 1, max: 200, bucket_counts: ['1', '2', '3'], explicit_bounds: [10, 100], temporality: 'cumulative' });
    expect(byName.size).toMatchObject({
      metric_type: 'exponential_histogram',
      count: '5',
      sum: 40,
      min: 0,
      max: 16,
      exp_scale: 2,
      exp_zero_count: '1',
      exp_positive_offset: -1,
      exp_positive_counts: ['1', '2'],
      exp_negative_offset: 3,
      exp_negative_counts: ['1'],
      temporality: 'delta',
    });
    expect(byName.rtt).toMatchObject({ metric_type: 'summary', count: '4', sum: 10, min: null, max: null, quantiles: [{ quantile: 0.5, value: 2 }, { quantile: 0.99, value: 4.5 }] });
  });

  it('stores the same kinds from protobuf, gzip-compressed, and keeps 64-bit counts exact', async () => {
    const big = 2n ** 60n + 7n;
    const body = encodeMetricsRequest({
      resourceMetrics: [
        {
          resource: { 'service.name': 'pb', 'project.name': 'kinds-pb' },
          scopeMetrics: [
            {
              scopeName: 'pb',
              scopeVersion: '',
              metrics: [
                { name: 'hits', description: 'hits served', unit: '1', type: 'sum', isMonotonic: true, temporality: 2, points: [{ attributes: { path: '/' }, startTimeUnixNano: 0n, timeUnixNano: BigInt(t), value: 12, flags: 0 }] },
                { name: 'hist', description: '', unit: 's', type: 'histogram', isMonotonic: false, temporality: 2, points: [{ attributes: {}, startTimeUnixNano: 0n, timeUnixNano: BigInt(t), count: big, sum: 1, bucketCounts: [big], explicitBounds: [], flags: 0 }] },
              ],
            },
          ],
        },
      ],
    });
    const res = await post('/v1/metrics', gzipSync(body), { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(decodeExportResponse('metrics', new Uint8Array(await res.arrayBuffer()))).toEqual({ rejected: 0, errorMessage: '' });
    expect(await sql("SELECT metric_name, value, count, bucket_counts, description, attributes FROM telemetry.metrics WHERE project_name = 'kinds-pb' ORDER BY metric_name")).toEqual([
      { metric_name: 'hist', value: 0, count: big.toString(), bucket_counts: [big.toString()], description: '', attributes: {} },
      { metric_name: 'hits', value: 12, count: '0', bucket_counts: [], description: 'hits served', attributes: { path: '/' } },
    ]);
  });

  it('stores the good points of a request and names the bad ones in partial success', async () => {
    const body = {
      resourceMetrics: [
        {
          resource: resource('bad-points'),
          scopeMetrics: [
            {
              metrics: [
                { name: 'ok', gauge: { dataPoints: [{ timeUnixNano: t, asDouble: 1 }, { asDouble: 2 }, { timeUnixNano: t }] } },
                { name: 'h', histogram: { dataPoints: [{ timeUnixNano: t, count: 3, bucketCounts: [1, 2], explicitBounds: [1, 2] }] } },
              ],
            },
          ],
        },
      ],
    };
    const res = await post('/v1/metrics', JSON.stringify(body));
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { partialSuccess: { rejectedDataPoints: string; errorMessage: string } };
    expect(answer.partialSuccess.rejectedDataPoints).toBe('3');
    expect(answer.partialSuccess.errorMessage).toBe(
      '3 of 4 data points rejected: data point 1 ("ok"): time_unix_nano is missing; data point 2 ("ok"): the data point has neither as_double nor as_int; ' +
        'data point 3 ("h"): a histogram with 2 bounds needs 3 bucket counts, got 2',
    );
    expect(await sql("SELECT metric_name, value FROM telemetry.metrics WHERE project_name = 'bad-points'")).toEqual([{ metric_name: 'ok', value: 1 }]);
  });
});

describe('metric values JSON cannot write', () => {
  it('keeps NaN and the infinities as such instead of storing 0', async () => {
    const body = {
      resourceMetrics: [
        {
          resource: resource('non-finite'),
          scopeMetrics: [{ metrics: [{ name: 'nan', gauge: { dataPoints: [{ timeUnixNano: t, asDouble: 'NaN' }] } }, { name: 'inf', gauge: { dataPoints: [{ timeUnixNano: t, asDouble: 'Infinity' }] } }, { name: 'h', histogram: { dataPoints: [{ timeUnixNano: t, count: 1, sum: '-Infinity', bucketCounts: [1], explicitBounds: [] }] } }] }],
        },
      ],
    };
    expect((await post('/v1/metrics', JSON.stringify(body))).status).toBe(200);
    expect(await sql("SELECT metric_name, isNaN(value) AS nan, isInfinite(value) AND value > 0 AS inf, isInfinite(sum) AND sum < 0 AS neg FROM telemetry.metrics WHERE project_name = 'non-finite' ORDER BY metric_name")).toEqual([
      { metric_name: 'h', nan: 0, inf: 0, neg: 1 },
      { metric_name: 'inf', nan: 0, inf: 1, neg: 0 },
      { metric_name: 'nan', nan: 1, inf: 0, neg: 0 },
    ]);
  });
});

describe('log records with every kind of OTLP value', () => {
  const anyValues = [
    ['s', { stringValue: 'text' }, 'text'],
    ['b', { boolValue: true }, 'true'],
    ['i', { intValue: '-9007199254740993' }, '-9007199254740993'],
    ['d', { doubleValue: 2.5 }, '2.5'],
    ['bytes', { bytesValue: 'aGVsbG8=' }, 'aGVsbG8='],
    ['arr', { arrayValue: { values: [{ intValue: 1 }, { stringValue: 'two' }, { arrayValue: { values: [] } }] } }, '["1","two",[]]'],
    ['kv', { kvlistValue: { values: [{ key: 'a', value: { boolValue: false } }, { key: 'n', value: { kvlistValue: { values: [] } } }] } }, '{"a":"false","n":{}}'],
    ['empty', {}, ''],
  ] as const;

  it('flattens each kind, as a body and as an attribute, the way span attributes are', async () => {
    const records = anyValues.map(([key, value], i) => ({
      timeUnixNano: `${BigInt(t) + BigInt(i)}`,
      severityNumber: 'SEVERITY_NUMBER_INFO',
      body: value,
      attributes: [{ key, value }],
    }));
    const res = await post('/v1/logs', JSON.stringify({ resourceLogs: [{ resource: resource('any-values'), scopeLogs: [{ scope: { name: 'kinds' }, logRecords: records }] }] }));
    expect(res.status).toBe(200);
    const rows = await sql<{ body: string; attributes: Record<string, string>; severity_text: string; severity_number: number }>(
      "SELECT body, attributes, severity_text, severity_number FROM telemetry.logs WHERE project_name = 'any-values' ORDER BY timestamp",
    );
    expect(rows).toEqual(anyValues.map(([key, , flat]) => ({ body: flat, attributes: { [key]: flat }, severity_text: 'INFO', severity_number: 9 })));
  });

  it('keeps nanosecond times, takes the observed time when the record has none, and links a record to its span', async () => {
    const second = BigInt(t) / 1_000_000_000n;
    const at = (s: bigint, nanos: string) => `${new Date(Number(s) * 1000).toISOString().slice(0, 19).replace('T', ' ')}.${nanos}`;
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const spanId = 'b7ad6b7169203331';
    const res = await post(
      '/v1/logs',
      JSON.stringify({
        resource_logs: [
          {
            resource: resource('log-times'),
            scope_logs: [
              {
                log_records: [
                  { time_unix_nano: `${second}123456789`, observed_time_unix_nano: `${second}999999999`, severity_text: 'oops', severity_number: 17, body: { string_value: 'with time' }, trace_id: traceId, span_id: spanId },
                  { observed_time_unix_nano: `${second + 1n}000000001`, body: { string_value: 'observed only' }, event_name: 'user.login' },
                ],
              },
            ],
          },
        ],
      }),
    );
    expect(res.status).toBe(200);
    expect(await sql("SELECT body, timestamp, observed_timestamp, severity_text, trace_id, span_id, attributes FROM telemetry.logs WHERE project_name = 'log-times' ORDER BY timestamp")).toEqual([
      { body: 'with time', timestamp: at(second, '123456789'), observed_timestamp: at(second, '999999999'), severity_text: 'oops', trace_id: traceId, span_id: spanId, attributes: {} },
      { body: 'observed only', timestamp: at(second + 1n, '000000001'), observed_timestamp: at(second + 1n, '000000001'), severity_text: '', trace_id: '', span_id: '', attributes: { 'event.name': 'user.login' } },
    ]);
  });

  it('stores a request sent twice (a retry whose answer was lost) once', async () => {
    const body = encodeLogsRequest({
      resourceLogs: [
        {
          resource: { 'service.name': 'retry', 'project.name': 'log-retry' },
          scopeLogs: [{ scopeName: '', scopeVersion: '', logRecords: [{ timeUnixNano: BigInt(t), observedTimeUnixNano: 0n, severityNumber: 13, severityText: '', body: 'once', attributes: {}, traceId: new Uint8Array(), spanId: new Uint8Array(), eventName: '' }] }],
        },
      ],
    });
    for (let i = 0; i < 2; i++) expect((await post('/v1/logs', body, { 'Content-Type': 'application/x-protobuf' })).status).toBe(200);
    expect(await sql("SELECT body, severity_text FROM telemetry.logs WHERE project_name = 'log-retry'")).toEqual([{ body: 'once', severity_text: 'WARN' }]);
  });
});

describe('the encoders the SDK will send logs and metrics with', () => {
  it('store the same rows whether a request goes as protobuf or as JSON', async () => {
    const at = BigInt(t);
    const metrics = (project: string): OtlpMetricsRequest => ({
      resourceMetrics: [
        {
          resource: { 'service.name': 'enc', 'project.name': project },
          scopeMetrics: [
            {
              scopeName: 'enc',
              scopeVersion: '1',
              metrics: [
                { name: 'g', description: 'gauge', unit: 'u', type: 'gauge', isMonotonic: false, temporality: 0, points: [{ attributes: { a: '1' }, startTimeUnixNano: 0n, timeUnixNano: at, value: Number.NaN, flags: 0 }] },
                { name: 's', description: '', unit: '', type: 'sum', isMonotonic: true, temporality: 1, points: [{ attributes: {}, startTimeUnixNano: at - 5n, timeUnixNano: at, value: 3.25, flags: 0 }] },
                { name: 'h', description: '', unit: 'ms', type: 'histogram', isMonotonic: false, temporality: 2, points: [{ attributes: {}, startTimeUnixNano: 0n, timeUnixNano: at, count: 3n, sum: 6, min: 1, max: 3, bucketCounts: [1n, 2n], explicitBounds: [1.5], flags: 0 }] },
                { name: 'e', description: '', unit: '', type: 'exponential_histogram', isMonotonic: false, temporality: 1, points: [{ attributes: {}, startTimeUnixNano: 0n, timeUnixNano: at, count: 2n, sum: 3, scale: -1, zeroCount: 0n, positive: { offset: 1, bucketCounts: [2n] }, negative: { offset: 0, bucketCounts: [] }, flags: 0 }] },
                { name: 'q', description: '', unit: '', type: 'summary', isMonotonic: false, temporality: 0, points: [{ attributes: {}, startTimeUnixNano: 0n, timeUnixNano: at, count: 4n, sum: 8, quantiles: [{ quantile: 0.5, value: 2 }], flags: 0 }] },
              ],
            },
          ],
        },
      ],
    });
    const logs = (project: string): OtlpLogsRequest => ({
      resourceLogs: [
        {
          resource: { 'service.name': 'enc', 'project.name': project },
          scopeLogs: [{ scopeName: 'enc', scopeVersion: '', logRecords: [{ timeUnixNano: at, observedTimeUnixNano: at + 1n, severityNumber: 14, severityText: '', body: 'hello', attributes: { k: 'v' }, traceId: Buffer.alloc(16, 7), spanId: Buffer.alloc(8, 9), eventName: 'app.start' }] }],
        },
      ],
    });
    expect((await post('/v1/metrics', encodeMetricsRequest(metrics('enc-pb')), { 'Content-Type': 'application/x-protobuf' })).status).toBe(200);
    expect((await post('/v1/metrics', encodeMetricsRequestJson(metrics('enc-json')))).status).toBe(200);
    expect((await post('/v1/logs', encodeLogsRequest(logs('enc-pb')), { 'Content-Type': 'application/x-protobuf' })).status).toBe(200);
    expect((await post('/v1/logs', encodeLogsRequestJson(logs('enc-json')))).status).toBe(200);
    for (const table of ['metrics', 'logs']) {
      const rows = (project: string) => sql(`SELECT * EXCEPT (project_name, inserted_at) FROM telemetry.${table} WHERE project_name = '${project}' ORDER BY timestamp, ${table === 'metrics' ? 'metric_name' : 'body'}`);
      const pb = await rows('enc-pb');
      expect(pb, table).toHaveLength(table === 'metrics' ? 5 : 1);
      expect(await rows('enc-json'), table).toEqual(pb);
    }
    expect(await sql("SELECT isNaN(value) AS nan FROM telemetry.metrics WHERE project_name = 'enc-json' AND metric_name = 'g'")).toEqual([{ nan: 1 }]);
  });
});

describe('the OTLP/HTTP receiver facing mistakes', () => {
  it('refuses a body whose data sits under unknown field names instead of answering 200 with nothing stored', async () => {
    const res = await post('/v1/logs', JSON.stringify({ resourceSpans: [{ scopeSpans: [] }] }));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe('$: expected an ExportLogsServiceRequest with "resourceLogs" (or "resource_logs"), got an object with keys resourceSpans');

    // Deeper down too: a misspelt field that leaves the request empty is named, not acknowledged.
    const nested = await post('/v1/logs', JSON.stringify({ resourceLogs: [{ scopeLogs: [{ LogRecords: [{ body: { stringValue: 'lost' } }] }] }] }));
    expect(nested.status).toBe(400);
    expect(((await nested.json()) as { message: string }).message).toBe(
      '$.resourceLogs[0].scopeLogs[0].LogRecords: unknown field, and the request carries no log records (fields are lowerCamelCase or as in the .proto files)',
    );
    // Keys that name Object.prototype's members are unknown fields like any other.
    const hostile = `{"resourceLogs":[{"__proto__":{"x":1},"constructor":1,"toString":"x","resource":${JSON.stringify(resource('proto-keys'))},"scopeLogs":[{"logRecords":[{"timeUnixNano":"${t}","body":{"stringValue":"safe"},"hasOwnProperty":2,"attributes":[{"key":"__proto__","value":{"stringValue":"an attribute"}}]}]}]}]}`;
    expect((await post('/v1/logs', hostile)).status).toBe(200);
    expect(await sql("SELECT body, attributes['__proto__'] AS attribute FROM telemetry.logs WHERE project_name = 'proto-keys'")).toEqual([{ body: 'safe', attribute: 'an attribute' }]);
    // An unknown field next to data is ignored, as the OTLP spec asks.
    const extra = await post('/v1/logs', JSON.stringify({ resourceLogs: [{ resource: resource('unknown-ok'), scopeLogs: [{ logRecords: [{ timeUnixNano: t, body: { stringValue: 'kept' }, futureField: 1 }] }] }] }));
    expect(extra.status).toBe(200);
    expect(await sql("SELECT body FROM telemetry.logs WHERE project_name = 'unknown-ok'")).toEqual([{ body: 'kept' }]);
  });

  it('answers 400 naming the path of a bad value, 401 without credentials, 404 listing the endpoints', async () => {
    const bad = await post('/v1/logs', JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ severityNumber: 'LOUD' }] }] }] }));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toBe('$.resourceLogs[0].scopeLogs[0].logRecords[0].severityNumber: expected a number or one of SeverityNumber\'s names, got "LOUD"');
    const anonymous = await fetch(`http://127.0.0.1:${config.ports.otlp}/v1/metrics`, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } });
    expect(anonymous.status).toBe(401);
    const missing = await post('/v1/profiles', '{}');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { message: string }).message).toBe('no OTLP endpoint at /v1/profiles: this receiver takes /v1/traces, /v1/logs, /v1/metrics');
  });

  it('answers 400, not a crash, for values nested deeper than protobuf decoders allow, in JSON and in protobuf', async () => {
    let value: Record<string, unknown> = { stringValue: 'x' };
    for (let i = 0; i < 500; i++) value = { arrayValue: { values: [value] } };
    const json = await post('/v1/logs', JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: value }] }] }] }));
    expect(json.status).toBe(400);
    expect(((await json.json()) as { message: string }).message).toMatch(/nested deeper than 100 messages$/);
    const len = (n: number) => {
      const out: number[] = [];
      for (; n > 127; n >>>= 7) out.push((n & 127) | 128);
      out.push(n);
      return Buffer.from(out);
    };
    const wrap = (tag: number, inner: Buffer) => Buffer.concat([Buffer.from([tag]), len(inner.length), inner]);
    let any = wrap(0x0a, Buffer.from('x'));
    for (let i = 0; i < 2000; i++) any = wrap(0x2a, wrap(0x0a, any));
    const pb = await post('/v1/logs', wrap(0x0a, wrap(0x12, wrap(0x12, wrap(0x2a, any)))), { 'Content-Type': 'application/x-protobuf' });
    expect(pb.status).toBe(400);
  });

  it('rejects a log record with a malformed trace id and stores its neighbours', async () => {
    const res = await post('/v1/logs', JSON.stringify({ resourceLogs: [{ resource: resource('log-partial'), scopeLogs: [{ logRecords: [{ body: { stringValue: 'a' }, timeUnixNano: t }, { body: { stringValue: 'b' }, timeUnixNano: t, traceId: 'abcd' }] }] }] }));
    const answer = (await res.json()) as { partialSuccess: { rejectedLogRecords: string; errorMessage: string } };
    expect(answer.partialSuccess).toEqual({ rejectedLogRecords: '1', errorMessage: '1 of 2 log records rejected: log record 1 ("b"): trace_id must be empty or 16 bytes, got 2 bytes' });
    expect(await sql("SELECT body FROM telemetry.logs WHERE project_name = 'log-partial'")).toEqual([{ body: 'a' }]);
  });
});

describe('the OTLP/gRPC receiver', () => {
  function call(signal: Signal, body: Uint8Array, metadata: Record<string, string>, options: grpc.ClientOptions = {}): Promise<{ code: grpc.status; details: string; response?: Buffer }> {
    const client = new grpc.Client(`127.0.0.1:${config.ports.otlpGrpc}`, grpc.credentials.createInsecure(), options);
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(metadata)) md.set(k, v);
    return new Promise<{ code: grpc.status; details: string; response?: Buffer }>((resolve) => {
      client.makeUnaryRequest(grpcExportPath(signal), (b: Uint8Array) => Buffer.from(b), (b: Buffer) => b, body, md, (error, response) =>
        resolve(error ? { code: error.code, details: error.details } : { code: grpc.status.OK, details: '', ...(response ? { response } : {}) }),
      );
    }).finally(() => client.close());
  }
  const logBody = (project: string, text: string) =>
    encodeLogsRequest({
      resourceLogs: [{ resource: { 'project.name': project }, scopeLogs: [{ scopeName: '', scopeVersion: '', logRecords: [{ timeUnixNano: BigInt(t), observedTimeUnixNano: 0n, severityNumber: 9, severityText: '', body: text, attributes: {}, traceId: new Uint8Array(), spanId: new Uint8Array(), eventName: '' }] }] }],
    });

  it('answers UNAUTHENTICATED without or with wrong credentials, and stores nothing', async () => {
    expect(await call('logs', logBody('grpc-anon', 'x'), {})).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining('authentication required') as unknown });
    expect(await call('logs', logBody('grpc-anon', 'x'), { authorization: basicAuthorization({ username: 'telemetry', password: 'nope' }) })).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect(await sql("SELECT 1 FROM telemetry.logs WHERE project_name = 'grpc-anon'")).toEqual([]);
  });

  it('answers INVALID_ARGUMENT (not retryable) for bytes that are not a request', async () => {
    const res = await call('metrics', Buffer.from([0x0a, 0x20, 0x0a]), { authorization: auth });
    expect(res.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(res.details).toMatch(/not a valid protobuf ExportMetricsServiceRequest/);
  });

  it('takes gzip-compressed calls, and stores a request once whether it came over gRPC or HTTP', async () => {
    const body = logBody('grpc-gzip', 'compressed');
    const res = await call('logs', body, { authorization: auth }, { 'grpc.default_compression_algorithm': 2 });
    expect(res.code).toBe(grpc.status.OK);
    expect(decodeExportResponse('logs', res.response ?? Buffer.alloc(0))).toEqual({ rejected: 0, errorMessage: '' });
    expect((await post('/v1/logs', body, { 'Content-Type': 'application/x-protobuf' })).status).toBe(200);
    expect(await sql("SELECT body FROM telemetry.logs WHERE project_name = 'grpc-gzip'")).toEqual([{ body: 'compressed' }]);
  });

  it('answers RESOURCE_EXHAUSTED for a message over the body limit', async () => {
    const big = logBody('grpc-big', 'x'.repeat(config.maxBodyBytes + 1024));
    const res = await call('logs', big, { authorization: auth });
    expect(res.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    // Also when it is only over the limit once decompressed (a few KB of gzip on the wire).
    const bomb = await call('logs', logBody('grpc-big', 'x'.repeat(8 * config.maxBodyBytes)), { authorization: auth }, { 'grpc.default_compression_algorithm': 2 });
    expect(bomb.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(await sql("SELECT 1 FROM telemetry.logs WHERE project_name = 'grpc-big'")).toEqual([]);
  });

  it('answers UNAVAILABLE (retryable) over gRPC and 503 with Retry-After over HTTP while the table cannot take rows, and stores the retry once', async () => {
    const body = logBody('grpc-unavailable', 'retried');
    await sql('RENAME TABLE telemetry.logs TO telemetry.logs_away');
    try {
      const grpcAnswer = await call('logs', body, { authorization: auth });
      expect(grpcAnswer.code).toBe(grpc.status.UNAVAILABLE);
      expect(grpcAnswer.details).toMatch(/^log records could not be stored: /);
      const http = await post('/v1/logs', body, { 'Content-Type': 'application/x-protobuf' });
      expect(http.status).toBe(503);
      expect(http.headers.get('retry-after')).toBe('1');
    } finally {
      await sql('RENAME TABLE telemetry.logs_away TO telemetry.logs');
    }
    expect((await call('logs', body, { authorization: auth })).code).toBe(grpc.status.OK);
    expect((await post('/v1/logs', body, { 'Content-Type': 'application/x-protobuf' })).status).toBe(200);
    expect(await sql("SELECT body FROM telemetry.logs WHERE project_name = 'grpc-unavailable'")).toEqual([{ body: 'retried' }]);
  });

  it('reports partial success in the Export response', async () => {
    const body = encodeMetricsRequest({
      resourceMetrics: [{ resource: { 'project.name': 'grpc-partial' }, scopeMetrics: [{ scopeName: '', scopeVersion: '', metrics: [{ name: 'g', description: '', unit: '', type: 'gauge', isMonotonic: false, temporality: 0, points: [{ attributes: {}, startTimeUnixNano: 0n, timeUnixNano: 0n, value: 1, flags: 0 }] }] }] }],
    });
    const res = await call('metrics', body, { authorization: auth });
    expect(res.code).toBe(grpc.status.OK);
    expect(decodeExportResponse('metrics', res.response ?? Buffer.alloc(0))).toEqual({ rejected: 1, errorMessage: '1 of 1 data points rejected: data point 0 ("g"): time_unix_nano is missing' });
  });
});
