// Receiver and query-path figures for bench/run.mjs: OTLP/JSON against protobuf, gRPC against HTTP, logs against
// traces (same items, same batches, the request bodies built before the clock starts so only the receiver is timed),
// and a 10M-row SELECT streamed over the ClickHouse HTTP port (server RSS growth, first byte).

import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeLogsRequest, encodeTraceRequest } from '../dist/src/otlp/protobuf.js';

const BATCH = 1000;
const CONCURRENCY = 2;

let seed = 1;
/** A run's ids never repeat another's: the receiver would store a repeated body once. */
const freshIds = () => {
  const traceId = Buffer.alloc(16);
  const spanId = Buffer.alloc(8);
  traceId.writeUInt32BE(seed, 0);
  traceId.writeUInt32BE(process.pid, 4);
  spanId.writeUInt32BE(seed++, 0);
  spanId[7] = 1;
  return { traceId, spanId };
};

const RESOURCE = { 'service.name': 'bench-receiver', 'project.name': 'bench-receiver', 'service.version': '1.0.0', 'host.name': 'bench' };

function traceBatches(items) {
  const now = BigInt(Date.now()) * 1_000_000n;
  const batches = [];
  for (let at = 0; at < items; at += BATCH) {
    const spans = [];
    for (let i = at; i < Math.min(items, at + BATCH); i++) {
      const { traceId, spanId } = freshIds();
      spans.push({
        traceId, spanId, parentSpanId: new Uint8Array(0), name: `bench.${i % 20}`, kind: 1,
        startTimeUnixNano: now + BigInt(i) * 1000n, endTimeUnixNano: now + BigInt(i) * 1000n + 2_500_000n,
        attributes: { i: String(i), user: `u${i % 500}`, 'http.route': '/api/items' }, status: { code: i % 50 === 0 ? 2 : 0, message: '' },
      });
    }
    batches.push({ resourceSpans: [{ resource: RESOURCE, scopeSpans: [{ scopeName: 'bench', scopeVersion: '1', spans }] }] });
  }
  return batches;
}

function logBatches(items) {
  const now = BigInt(Date.now()) * 1_000_000n;
  const batches = [];
  for (let at = 0; at < items; at += BATCH) {
    const logRecords = [];
    for (let i = at; i < Math.min(items, at + BATCH); i++) {
      const { traceId, spanId } = freshIds();
      logRecords.push({
        timeUnixNano: now + BigInt(i) * 1000n, observedTimeUnixNano: now + BigInt(i) * 1000n, severityNumber: 9, severityText: 'INFO',
        body: `bench.${i % 20}`, attributes: { i: String(i), user: `u${i % 500}`, 'http.route': '/api/items' }, traceId, spanId, eventName: '',
      });
    }
    batches.push({ resourceLogs: [{ resource: RESOURCE, scopeLogs: [{ scopeName: 'bench', scopeVersion: '1', logRecords }] }] });
  }
  return batches;
}

const hex = (b) => Buffer.from(b).toString('hex');
const kv = (attrs) => Object.entries(attrs).map(([key, value]) => ({ key, value: { stringValue: value } }));

/** The OTLP/JSON encoding of a trace batch (ids as hex, 64-bit times as strings), as the official exporters send it. */
function traceJson(batch) {
  return JSON.stringify({
    resourceSpans: batch.resourceSpans.map((rs) => ({
      resource: { attributes: kv(rs.resource) },
      scopeSpans: rs.scopeSpans.map((ss) => ({
        scope: { name: ss.scopeName, version: ss.scopeVersion },
        spans: ss.spans.map((s) => ({
          traceId: hex(s.traceId), spanId: hex(s.spanId), parentSpanId: '', name: s.name, kind: s.kind,
          startTimeUnixNano: String(s.startTimeUnixNano), endTimeUnixNano: String(s.endTimeUnixNano), attributes: kv(s.attributes), status: s.status,
        })),
      })),
    })),
  });
}

/** Items per second through `send`, CONCURRENCY requests in flight, each batch of BATCH items. */
async function rate(bodies, send) {
  let next = 0;
  const began = performance.now();
  const worker = async () => {
    while (next < bodies.length) await send(bodies[next++]);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return (bodies.length * BATCH) / ((performance.now() - began) / 1000);
}

const ROUNDS = 5;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * B's rate over A's, the two alternating in ROUNDS rounds (a slice of each side's batches a round), as the median of
 * the rounds' ratios: a machine whose load drifts during the run shifts both sides of a round alike.
 */
async function compare(a, b) {
  await rate(a.warmup, a.send);
  await rate(b.warmup, b.send);
  const ratios = [];
  const rates = { a: [], b: [] };
  const per = Math.ceil(a.bodies.length / ROUNDS);
  for (let round = 0; round < ROUNDS; round++) {
    const ra = await rate(a.bodies.slice(round * per, (round + 1) * per), a.send);
    const rb = await rate(b.bodies.slice(round * per, (round + 1) * per), b.send);
    rates.a.push(ra);
    rates.b.push(rb);
    ratios.push(rb / ra);
  }
  return { ratio: Number(median(ratios).toFixed(3)), a: median(rates.a), b: median(rates.b) };
}

/**
 * fetch, sent again once when it went out on a kept-alive socket the server had already closed (building a side's
 * bodies blocks this process for seconds under load, past the server's keep-alive timeout).
 */
async function post(url, init) {
  try {
    return await fetch(url, init);
  } catch (error) {
    if (error?.cause?.code !== 'UND_ERR_SOCKET') throw error;
    return fetch(url, init);
  }
}

function httpPost(url, auth, contentType) {
  return async (body) => {
    const res = await post(url, { method: 'POST', body, headers: { Authorization: auth, 'Content-Type': contentType, 'Content-Encoding': 'gzip' } });
    const answer = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200 || (contentType === 'application/json' && answer.length > 2)) throw new Error(`${url}: HTTP ${res.status} ${answer.toString('utf8').slice(0, 200)}`);
  };
}

function grpcExport(address, auth) {
  const Client = grpc.makeGenericClientConstructor({
    Export: {
      path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export', requestStream: false, responseStream: false,
      requestSerialize: (b) => b, requestDeserialize: (b) => b, responseSerialize: (b) => b, responseDeserialize: (b) => b,
    },
  }, 'TraceService');
  const client = new Client(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('authorization', auth);
  const send = (body) => new Promise((resolve, reject) => client.Export(body, metadata, (error) => (error ? reject(error) : resolve())));
  return { send, close: () => client.close() };
}

/**
 * otlp_json_vs_proto (gzip OTLP/JSON ÷ gzip protobuf), grpc_vs_http (protobuf over gRPC ÷ OTLP/HTTP protobuf) and
 * otlp_logs_vs_traces (log records ÷ spans, OTLP/HTTP protobuf), each pair with the same items and batches.
 */
export async function receiverRatios({ vars, grpcAddress, items, say, fmt }) {
  const auth = `Basic ${Buffer.from(`${vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME}:${vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD}`).toString('base64')}`;
  const base = new URL(vars.AUTOMAGIK_TELEMETRY_ENDPOINT).origin;
  const results = {};
  const postProto = httpPost(`${base}/v1/traces`, auth, 'application/x-protobuf');
  const postJson = httpPost(`${base}/v1/traces`, auth, 'application/json');
  const postLogs = httpPost(`${base}/v1/logs`, auth, 'application/x-protobuf');
  const warmup = 3 * BATCH;
  const protoSide = () => ({ warmup: traceBatches(warmup).map((b) => gzipSync(encodeTraceRequest(b))), bodies: traceBatches(items).map((b) => gzipSync(encodeTraceRequest(b))), send: postProto });

  const json = await compare(protoSide(), { warmup: traceBatches(warmup).map((b) => gzipSync(traceJson(b))), bodies: traceBatches(items).map((b) => gzipSync(traceJson(b))), send: postJson });
  results.otlp_json_vs_proto = json.ratio;
  say(`otlp_json_vs_proto       ${json.ratio} (OTLP/JSON gzip ${fmt(json.b)} spans/s vs protobuf gzip ${fmt(json.a)}/s, batches of ${BATCH}, median of ${ROUNDS} alternating rounds; target >= 0.7)`);

  const grpcClient = grpcExport(grpcAddress, auth);
  const plainProto = async (body) => {
    const res = await post(`${base}/v1/traces`, { method: 'POST', body, headers: { Authorization: auth, 'Content-Type': 'application/x-protobuf' } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  };
  const plain = () => ({ warmup: traceBatches(warmup).map((b) => Buffer.from(encodeTraceRequest(b))), bodies: traceBatches(items).map((b) => Buffer.from(encodeTraceRequest(b))) });
  const overGrpc = await compare({ ...plain(), send: plainProto }, { ...plain(), send: grpcClient.send });
  grpcClient.close();
  results.grpc_vs_http = overGrpc.ratio;
  say(`grpc_vs_http             ${overGrpc.ratio} (gRPC ${fmt(overGrpc.b)} spans/s vs OTLP/HTTP protobuf ${fmt(overGrpc.a)}/s, uncompressed, median of ${ROUNDS} alternating rounds; target >= 0.9)`);

  const logs = await compare(protoSide(), { warmup: logBatches(warmup).map((b) => gzipSync(encodeLogsRequest(b))), bodies: logBatches(items).map((b) => gzipSync(encodeLogsRequest(b))), send: postLogs });
  results.otlp_logs_vs_traces = logs.ratio;
  say(`otlp_logs_vs_traces      ${logs.ratio} (${fmt(logs.b)} log records/s vs ${fmt(logs.a)} spans/s, OTLP/HTTP protobuf gzip, median of ${ROUNDS} alternating rounds; target >= 0.9)`);
  return results;
}

const rssOf = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

function streamQuery(url, auth, sql, onFirstByte) {
  return new Promise((resolve, reject) => {
    const began = performance.now();
    const req = request(`${url}/?query=${encodeURIComponent(sql)}`, { headers: { Authorization: auth } }, (res) => {
      let bytes = 0;
      let newlines = 0;
      res.on('data', (chunk) => {
        if (bytes === 0) onFirstByte(performance.now() - began);
        bytes += chunk.length;
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) newlines++;
      });
      res.on('end', () => (res.statusCode === 200 ? resolve({ bytes, newlines }) : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** query_stream_rss_mb and query_stream_ttfb_ms: `SELECT number FROM numbers(10000000)` read at full speed. */
export async function queryStream({ home, connection, say }) {
  const pid = Number(readFileSync(join(home, 'run', 'engine.pid'), 'utf8').trim());
  const auth = `Basic ${Buffer.from(`${connection.username}:${connection.password}`).toString('base64')}`;
  const sql = 'SELECT number FROM numbers(10000000)';
  await streamQuery(connection.url, auth, 'SELECT number FROM numbers(100000)', () => undefined); // opens the stream session
  const ttfbs = [];
  const growths = [];
  for (let round = 0; round < 3; round++) {
    const before = rssOf(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 5);
    const { newlines } = await streamQuery(connection.url, auth, sql, (ms) => ttfbs.push(ms));
    clearInterval(sampler);
    peak = Math.max(peak, rssOf(pid));
    if (newlines !== 10_000_000) throw new Error(`streamed ${newlines} rows of 10,000,000`);
    growths.push((peak - before) / 1e6);
  }
  const results = { query_stream_rss_mb: Number(median(growths).toFixed(1)), query_stream_ttfb_ms: Number(median(ttfbs).toFixed(1)) };
  say(`query_stream_rss_mb      ${results.query_stream_rss_mb} MB server RSS growth serving ${sql}, median of 3 (target <= 64)`);
  say(`query_stream_ttfb_ms     ${results.query_stream_ttfb_ms} ms to the first byte, median of 3 (target <= 100)`);
  return results;
}
