// Benchmarks: prints figures, each measured against a baseline in the same run on the same engine, and as its last
// line one JSON object with every key. `npm run bench` (1M events) or `npm run bench -- --quick` (100k).
// Needs a build (npm run build) and chDB. Writes bench/results/latest.json.

import { createClient } from '@clickhouse/client';
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutomagikTelemetry } from '../dist/src/index.js';
import { recentTraces } from '../dist/src/query/traces.js';

const quick = process.argv.includes('--quick');
const N = quick ? 100_000 : 1_000_000;
const SDK_EVENTS = quick ? 50_000 : 200_000;
const TRACK_EVENTS = quick ? 50_000 : 200_000;
const DOWN_EVENTS = quick ? 200_000 : 1_000_000;
const BATCH = 5000;
const root = new URL('..', import.meta.url).pathname;
const CLI = join(root, 'dist', 'bin', 'automagik-telemetry.js');

const say = (line) => process.stdout.write(`${line}\n`);
const fmt = (n) => Math.round(n).toLocaleString('en-US');

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function run(args, env, stdinFile) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (stdinFile) createReadStream(stdinFile).pipe(child.stdin);
    else child.stdin.end();
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const home = await mkdtemp(join(tmpdir(), 'amt-bench-'));
const env = {
  AUTOMAGIK_TELEMETRY_HOME: home,
  AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT: String(await freePort()),
  AUTOMAGIK_TELEMETRY_OTLP_PORT: String(await freePort()),
  AUTOMAGIK_TELEMETRY_OTLP_GRPC_PORT: String(await freePort()),
  AUTOMAGIK_TELEMETRY_DASHBOARD_PORT: String(await freePort()),
  AUTOMAGIK_TELEMETRY_ENGINE: 'embedded',
};
const results = {};
try {
  say(`automagik-telemetry bench (${quick ? 'quick' : 'full'}: ${fmt(N)} events), node ${process.version}`);

  // 1. start to healthy (the CLI waits for both endpoints before it returns).
  let t = performance.now();
  const started = await run(['start'], env);
  results.start_to_healthy_ms = Math.round(performance.now() - t);
  if (started.code !== 0) throw new Error(`start failed: ${started.stderr}`);
  say(`start_to_healthy_ms      ${results.start_to_healthy_ms} ms (target <= 2000)`);
  const vars = JSON.parse((await run(['env', '--json'], env)).stdout);
  const connection = { url: vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT, username: 'telemetry', password: vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD, database: 'telemetry' };

  // 2. send --stdin (ClickHouse backend) against a raw @clickhouse/client insert of the same rows, same batch size.
  const file = join(home, 'events.jsonl');
  const rows = [];
  let text = '';
  const base = Date.now() - 3_600_000;
  for (let i = 0; i < N; i++) {
    const line = { event: `bench.${i % 20}`, project: 'bench', status: i % 50 === 0 ? 'error' : 'ok', duration_ms: i % 1000, timestamp: base + (i % 3_600_000), attributes: { i, user: `u${i % 500}` } };
    text += `${JSON.stringify(line)}\n`;
    if (text.length > 1 << 20) {
      await writeFile(file, text, { flag: 'a' });
      text = '';
    }
    rows.push({
      trace_id: i.toString(16).padStart(32, '0'), span_id: i.toString(16).padStart(16, '0'), parent_span_id: '',
      timestamp: new Date(base + (i % 3_600_000)).toISOString().replace('T', ' ').replace('Z', ''), service_name: 'raw', span_name: line.event,
      span_kind: 'INTERNAL', status_code: line.status.toUpperCase(), status_message: '', duration_ms: line.duration_ms, project_name: 'raw',
      project_version: '', environment: '', attributes: { i: String(i), user: line.attributes.user },
    });
  }
  await writeFile(file, text, { flag: 'a' });
  t = performance.now();
  const sent = await run(['send', '--stdin', '--backend', 'clickhouse', '--batch-size', String(BATCH), '--json'], env, file);
  const sendMs = performance.now() - t;
  const sendSummary = JSON.parse(sent.stdout);
  if (sendSummary.sent !== N) throw new Error(`send stored ${sendSummary.sent} of ${N}: ${sent.stderr}`);
  results.send_events_per_s = Math.round(N / (sendMs / 1000));

  const client = createClient({ url: connection.url, username: 'telemetry', password: connection.password, database: 'telemetry' });
  t = performance.now();
  for (let i = 0; i < rows.length; i += BATCH) await client.insert({ table: 'traces', values: rows.slice(i, i + BATCH), format: 'JSONEachRow' });
  const rawMs = performance.now() - t;
  await client.close();
  const rawPerS = N / (rawMs / 1000);
  results.send_vs_raw = Number((results.send_events_per_s / rawPerS).toFixed(3));
  say(`send_events_per_s        ${fmt(results.send_events_per_s)} events/s, whole CLI process (target >= 100,000)`);
  say(`  raw @clickhouse/client ${fmt(rawPerS)} rows/s, same rows and batch size`);
  say(`send_vs_raw              ${results.send_vs_raw} (target >= 0.8)`);
  rows.length = 0;

  // 3. SDK: OTLP backend through the receiver, against the ClickHouse backend, same events, same batches.
  const sdkRate = async (backend) => {
    const telemetry = new AutomagikTelemetry({
      projectName: `sdk-${backend}`, backend, endpoint: vars.AUTOMAGIK_TELEMETRY_ENDPOINT, clickhouseEndpoint: connection.url,
      clickhousePassword: connection.password, clickhouseBatchSize: BATCH, maxQueueSize: BATCH * 8, compression: false,
    }, {});
    const began = performance.now();
    for (let i = 0; i < SDK_EVENTS; i++) {
      telemetry.trackEvent('sdk.bench', { i });
      if (i % BATCH === 0) await telemetry.whenQueuedBelow(BATCH * 4);
    }
    await telemetry.shutdown();
    const ms = performance.now() - began;
    if (telemetry.stats().sent !== SDK_EVENTS) throw new Error(`${backend}: sent ${telemetry.stats().sent} of ${SDK_EVENTS}`);
    return SDK_EVENTS / (ms / 1000);
  };
  const direct = await sdkRate('clickhouse');
  const otlp = await sdkRate('otlp');
  results.otlp_vs_direct = Number((otlp / direct).toFixed(3));
  say(`otlp_vs_direct           ${results.otlp_vs_direct} (OTLP ${fmt(otlp)}/s vs ClickHouse ${fmt(direct)}/s; target >= 0.5)`);

  // 3b. logs and metrics on send --stdin (OTLP protobuf batches) against events on send --stdin over OTLP, same count.
  const SIGNAL_LINES = quick ? 20_000 : 100_000;
  const lineRate = async (name, make) => {
    const path = join(home, `${name}.jsonl`);
    let body = '';
    for (let i = 0; i < SIGNAL_LINES; i++) body += `${JSON.stringify(make(i))}\n`;
    await writeFile(path, body);
    const began = performance.now();
    const out = await run(['send', '--stdin', '--json'], env, path);
    const ms = performance.now() - began;
    const summary = JSON.parse(out.stdout);
    if (summary.sent !== SIGNAL_LINES) throw new Error(`${name}: stored ${summary.sent} of ${SIGNAL_LINES}: ${out.stderr}`);
    return SIGNAL_LINES / (ms / 1000);
  };
  const eventLines = await lineRate('otlp-events', (i) => ({ event: `e.${i % 20}`, project: 'bench-signals', attributes: { i } }));
  const logLines = await lineRate('logs', (i) => ({ type: 'log', message: `line ${i}`, severity: 'info', project: 'bench-signals', attributes: { i } }));
  const metricLines = await lineRate('metrics', (i) => ({ type: 'metric', name: `m.${i % 20}`, value: i, project: 'bench-signals', attributes: { i } }));
  results.logs_vs_events = Number((logLines / eventLines).toFixed(3));
  results.metrics_vs_events = Number((metricLines / eventLines).toFixed(3));
  say(`logs_vs_events           ${results.logs_vs_events} (${fmt(logLines)} log lines/s vs ${fmt(eventLines)} events/s over OTLP, send --stdin; target >= 0.5)`);
  say(`metrics_vs_events        ${results.metrics_vs_events} (${fmt(metricLines)} metric lines/s; target >= 0.5)`);

  // 4. CPU per event: trackEvent against OpenTelemetry's startSpan().end() with BatchSpanProcessor + OTLP exporter.
  const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  const headers = { Authorization: `Basic ${Buffer.from(`telemetry:${connection.password}`).toString('base64')}` };
  const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: vars.AUTOMAGIK_TELEMETRY_ENDPOINT, headers }))] });
  const tracer = provider.getTracer('bench');
  const cpu = (fn) => {
    const before = process.cpuUsage();
    fn();
    const used = process.cpuUsage(before);
    return (used.user + used.system) / TRACK_EVENTS;
  };
  const ours = new AutomagikTelemetry({ projectName: 'track', endpoint: vars.AUTOMAGIK_TELEMETRY_ENDPOINT, clickhousePassword: connection.password }, {});
  cpu(() => { for (let i = 0; i < 2000; i++) ours.trackEvent('warm', { i }); });
  cpu(() => { for (let i = 0; i < 2000; i++) tracer.startSpan('warm', { attributes: { i } }).end(); });
  // Alternating rounds, median of each: one round is at the mercy of when the garbage collector runs.
  const oursRounds = [];
  const otelRounds = [];
  for (let round = 0; round < 5; round++) {
    oursRounds.push(cpu(() => { for (let i = 0; i < TRACK_EVENTS; i++) ours.trackEvent('track', { i }); }));
    await new Promise((r) => setTimeout(r, 50));
    otelRounds.push(cpu(() => { for (let i = 0; i < TRACK_EVENTS; i++) tracer.startSpan('track', { attributes: { i } }).end(); }));
    await new Promise((r) => setTimeout(r, 50));
  }
  const oursUs = median(oursRounds);
  const otelUs = median(otelRounds);
  await ours.shutdown();
  await provider.shutdown();
  results.track_vs_otel = Number((oursUs / otelUs).toFixed(3));
  say(`track_vs_otel            ${results.track_vs_otel} (${oursUs.toFixed(2)} µs vs ${otelUs.toFixed(2)} µs CPU per event, median of 5 rounds; target <= 0.5)`);

  // 5. RSS growth while tracking with the store down (a process of its own, so nothing else is counted).
  const down = await new Promise((resolve, reject) => {
    const code = `
      import { AutomagikTelemetry } from ${JSON.stringify(join(root, 'dist', 'src', 'index.js'))};
      global.gc(); const before = process.memoryUsage().rss;
      const t = new AutomagikTelemetry({ projectName: 'down', backend: 'clickhouse', clickhouseEndpoint: 'http://127.0.0.1:1', clickhousePassword: 'x', maxRetries: 0 }, {});
      for (let i = 0; i < ${DOWN_EVENTS}; i++) { t.trackEvent('down', { i, payload: 'x'.repeat(50) }); if (i % 10000 === 0) await new Promise((r) => setImmediate(r)); }
      await t.flush(); global.gc();
      console.log(JSON.stringify({ mb: (process.memoryUsage().rss - before) / 1048576, stats: t.stats() }));
      await t.shutdown();`;
    const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', code]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', () => {
      try { resolve(JSON.parse(out.trim().split('\n').pop())); } catch (error) { reject(error); }
    });
  });
  results.rss_mb_server_down = Number(down.mb.toFixed(1));
  say(`rss_mb_server_down       ${results.rss_mb_server_down} MB after ${fmt(DOWN_EVENTS)} events (queued ${down.stats.queued}, dropped ${fmt(down.stats.dropped)}; target < 100)`);

  // 6. query-traces' query over the rows loaded above.
  const [{ n }] = await (await import('../dist/src/clickhouse/http-client.js')).queryRows(connection, 'SELECT count() AS n FROM traces');
  const times = [];
  for (let i = 0; i < 7; i++) {
    t = performance.now();
    await recentTraces(connection, 'telemetry.traces', { project: 'bench', limit: 50 });
    times.push(performance.now() - t);
  }
  results.query_traces_ms_1m = Number(median(times).toFixed(1));
  say(`query_traces_ms_1m       ${results.query_traces_ms_1m} ms median of 7, --limit 50 --project bench over ${fmt(n)} rows (target <= 100)`);
} finally {
  await run(['stop'], env).catch(() => undefined);
  await rm(home, { recursive: true, force: true });
}

const summary = { mode: quick ? 'quick' : 'full', events: N, ...results };
await mkdir(join(root, 'bench', 'results'), { recursive: true });
await writeFile(join(root, 'bench', 'results', 'latest.json'), `${JSON.stringify({ ...summary, at: new Date().toISOString() }, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(summary)}\n`);
