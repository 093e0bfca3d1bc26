// The soak run: an embedded engine in a fresh home, four senders at a steady rate (the SDK over OTLP and over
// ClickHouse, the official OpenTelemetry exporters over OTLP/HTTP and over gRPC), each sending events or spans, log
// records and metric points, with dashboard queries alongside. Prints the RSS of the engine and of each sender over
// time, the p99 acknowledgement latency, and the exact stored counts against what each sender had acknowledged.
//
//   npm run soak -- --minutes 10 [--rate 200]      (rate: items a second per signal per sender)
// Not part of CI: it takes the minutes it is given.

import { freePort, runNode } from './child.mjs';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist', 'bin', 'automagik-telemetry.js');
const SENDERS = ['sdk-otlp', 'sdk-clickhouse', 'otlp-http', 'otlp-grpc'];

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};

if (flag('sender')) await runSender(flag('sender'), Number(flag('rate', '200')), Number(flag('seconds', '60')));
else await runSoak(Number(flag('minutes', '10')), Number(flag('rate', '200')));

// ---------------------------------------------------------------------------------------------- the conductor

async function runSoak(minutes, rate) {
  const home = await mkdtemp(join(tmpdir(), 'amt-soak-'));
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NO_COLOR: '1',
    AUTOMAGIK_TELEMETRY_HOME: home,
    AUTOMAGIK_TELEMETRY_ENGINE: 'embedded',
    AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT: String(await freePort()),
    AUTOMAGIK_TELEMETRY_OTLP_PORT: String(await freePort()),
    AUTOMAGIK_TELEMETRY_OTLP_GRPC_PORT: String(await freePort()),
    AUTOMAGIK_TELEMETRY_DASHBOARD_PORT: String(await freePort()),
  };
  const seconds = Math.round(minutes * 60);
  console.log(`soak: ${minutes} min, ${SENDERS.length} senders, ${rate} items/s per signal per sender, home ${home}`);
  const started = await run(['start', '--json'], env);
  if (started.code !== 0) throw new Error(`start failed: ${started.stderr}`);
  const enginePid = JSON.parse(started.stdout).pid;
  const vars = JSON.parse((await run(['env', '--json'], env)).stdout);
  const admin = JSON.parse((await run(['env', '--role', 'admin', '--json'], env)).stdout);
  const reader = JSON.parse((await run(['env', '--role', 'reader', '--json'], env)).stdout);
  try {
    const senders = SENDERS.map((kind) => {
      const child = spawn(process.execPath, [import.meta.filename, '--sender', kind, '--rate', String(rate), '--seconds', String(seconds)], {
        // The exporters are given their URL and credential explicitly; the OTEL_* variables stay out of the way.
        env: { ...env, ...Object.fromEntries(Object.entries(vars).filter(([k]) => !k.startsWith('OTEL_'))), SOAK_OTLP_ENDPOINT: vars.OTEL_EXPORTER_OTLP_ENDPOINT },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      return { kind, child, result: new Promise((resolve) => child.on('close', (code) => resolve({ code, out }))) };
    });

    // Dashboard queries alongside, as the reader role: the overview's kinds of reads, every 2 s.
    const queryLatencies = [];
    let querying = true;
    const queries = (async () => {
      const sqls = [
        'SELECT toStartOfMinute(timestamp) AS t, count() FROM telemetry.traces WHERE timestamp > now() - INTERVAL 1 HOUR GROUP BY t ORDER BY t',
        "SELECT severity_text, count() FROM telemetry.logs WHERE timestamp > now() - INTERVAL 1 HOUR GROUP BY severity_text",
        'SELECT metric_name, avg(value) FROM telemetry.metrics WHERE timestamp > now() - INTERVAL 1 HOUR GROUP BY metric_name',
        'SELECT project_name, sum(total_count) FROM telemetry.metrics_hourly GROUP BY project_name',
      ];
      for (let i = 0; querying; i++) {
        const t0 = performance.now();
        await chQuery(vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT, reader, sqls[i % sqls.length]).catch((e) => console.error(`query failed: ${e.message}`));
        queryLatencies.push(performance.now() - t0);
        await sleep(2_000);
      }
    })();

    // RSS over time: the engine and each sender, every 30 s (and at the start and the end).
    const samples = [];
    const sample = async (at) => {
      const row = { at, engine: await rssMb(enginePid) };
      for (const s of senders) row[s.kind] = await rssMb(s.child.pid);
      samples.push(row);
      console.log(`  t=${String(at).padStart(4)} s  RSS MiB  ${Object.entries(row).filter(([k]) => k !== 'at').map(([k, v]) => `${k} ${v ?? '-'}`).join('  ')}`);
    };
    const t0 = Date.now();
    await sample(0);
    const timer = setInterval(() => void sample(Math.round((Date.now() - t0) / 1000)), 30_000);
    const results = await Promise.all(senders.map((s) => s.result));
    clearInterval(timer);
    querying = false;
    await queries;

    const reports = results.map((r, i) => {
      if (r.code !== 0) throw new Error(`sender ${SENDERS[i]} exited with ${r.code}`);
      return JSON.parse(r.out.trim().split('\n').pop());
    });
    await sleep(1_000);
    console.log('\nstored against acknowledged, per sender (project soak-<sender>):');
    let lost = 0;
    for (const report of reports) {
      const project = `soak-${report.kind}`;
      const [row] = await chQuery(vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT, admin,
        `SELECT (SELECT count() FROM telemetry.traces WHERE project_name = '${project}') AS traces, ` +
          `(SELECT count() FROM telemetry.logs WHERE project_name = '${project}' OR service_name = '${project}') AS logs, ` +
          `(SELECT count() FROM telemetry.metrics WHERE project_name = '${project}' OR service_name = '${project}') AS metrics`);
      const stored = { traces: Number(row.traces), logs: Number(row.logs), metrics: Number(row.metrics) };
      const storedTotal = stored.traces + stored.logs + stored.metrics;
      const diff = report.acked.total !== undefined ? [storedTotal - report.acked.total] : ['traces', 'logs', 'metrics'].map((k) => stored[k] - report.acked[k]);
      lost += diff.filter((d) => d !== 0).length + (report.failed > 0 ? 1 : 0);
      const acked = report.acked.total !== undefined ? `${report.acked.total} items` : `${report.acked.traces} / ${report.acked.logs} / ${report.acked.metrics}`;
      console.log(
        `  ${report.kind.padEnd(15)} sent ${report.tracked ?? '-'} items, acknowledged ${acked}; stored ${stored.traces} / ${stored.logs} / ${stored.metrics} ` +
          `(traces / logs / metrics; difference ${diff.join(' / ')}); failed or dropped ${report.failed}; ` +
          `ack latency p50 ${report.p50} ms, p99 ${report.p99} ms, max ${report.max} ms`,
      );
    }
    const first = samples[1] ?? samples[0];
    const last = samples[samples.length - 1];
    console.log(`\nengine RSS: ${first.engine} MiB at t=${first.at} s, ${last.engine} MiB at t=${last.at} s (peak ${Math.max(...samples.map((s) => s.engine ?? 0))} MiB)`);
    console.log(`dashboard queries: ${queryLatencies.length}, p99 ${percentile(queryLatencies, 0.99).toFixed(0)} ms`);
    console.log(lost === 0 ? 'nothing lost, nothing doubled, nothing dropped' : `MISMATCH or loss in ${lost} count(s)`);
    const engineLog = await readFile(join(home, 'run', 'engine.log'), 'utf8').catch(() => '');
    const errors = engineLog.split('\n').filter((l) => l.includes('"level":"error"')).length;
    console.log(`engine log: ${errors} error line(s)`);
    process.exitCode = lost === 0 ? 0 : 1;
  } finally {
    await run(['stop'], env);
    await rm(home, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------- the senders

async function runSender(kind, rate, seconds) {
  const latencies = [];
  const acked = { traces: 0, logs: 0, metrics: 0 };
  let tracked = 0;
  let failed = 0;
  const project = `soak-${kind}`;
  const tickMs = 100;
  const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
  const deadline = Date.now() + seconds * 1000;

  if (kind.startsWith('sdk-')) {
    const { AutomagikTelemetry } = await import(join(ROOT, 'dist', 'src', 'index.js'));
    const spoolDir = await mkdtemp(join(tmpdir(), 'amt-soak-spool-'));
    // Batches of 1,000 (a busy app's setting; the default 100 is for apps that send little).
    const client = new AutomagikTelemetry({ projectName: project, backend: kind === 'sdk-otlp' ? 'otlp' : 'clickhouse', batchSize: 1_000, flushIntervalMs: 1_000, spoolDir, onError: () => undefined });
    let flushing = false;
    let tick = 0;
    while (Date.now() < deadline) {
      for (let i = 0; i < perTick; i++) {
        client.trackEvent('soak.event', { i: String(i), tick: String(tick) }, { durationMs: i });
        client.trackLog(`soak line ${tick}.${i}`, { severity: i % 10 === 0 ? 'warn' : 'info' });
        client.trackMetric('soak.value', i, { unit: 'ms' });
      }
      tracked += perTick * 3;
      tick++;
      // Each second a flush, not awaited (the rate stays steady) and never two at once: it resolves once the store
      // acknowledged what was tracked before it, which is the acknowledgement latency.
      if (tick % 10 === 0 && !flushing) {
        const t0 = performance.now();
        flushing = true;
        void client.flush().then(() => {
          latencies.push(performance.now() - t0);
          flushing = false;
        });
      }
      await sleep(tickMs);
    }
    await client.shutdown();
    const stats = client.stats();
    // The SDK counts events, log lines and metric points alike: its total is compared with the store's total.
    acked.total = stats.sent;
    failed = stats.failed + stats.dropped;
    await rm(spoolDir, { recursive: true, force: true });
  } else {
    const grpc = kind === 'otlp-grpc';
    const base = grpc ? `http://127.0.0.1:${process.env.AUTOMAGIK_TELEMETRY_OTLP_GRPC_PORT}` : process.env.SOAK_OTLP_ENDPOINT;
    const auth = 'Basic ' + Buffer.from(`${process.env.AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME}:${process.env.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD}`).toString('base64');
    const { resourceFromAttributes } = await import('@opentelemetry/resources');
    const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
    const { LoggerProvider, BatchLogRecordProcessor } = await import('@opentelemetry/sdk-logs');
    const { MeterProvider, PeriodicExportingMetricReader, AggregationTemporality } = await import('@opentelemetry/sdk-metrics');
    let traceExporter, logExporter, metricExporter;
    if (grpc) {
      const { Metadata } = await import('@grpc/grpc-js');
      const metadata = () => {
        const m = new Metadata();
        m.set('authorization', auth);
        return m;
      };
      traceExporter = new (await import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter({ url: base, metadata: metadata() });
      logExporter = new (await import('@opentelemetry/exporter-logs-otlp-grpc')).OTLPLogExporter({ url: base, metadata: metadata() });
      metricExporter = new (await import('@opentelemetry/exporter-metrics-otlp-grpc')).OTLPMetricExporter({ url: base, metadata: metadata(), temporalityPreference: AggregationTemporality.DELTA });
    } else {
      const headers = { Authorization: auth };
      traceExporter = new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter({ url: `${base}/v1/traces`, headers });
      logExporter = new (await import('@opentelemetry/exporter-logs-otlp-proto')).OTLPLogExporter({ url: `${base}/v1/logs`, headers });
      metricExporter = new (await import('@opentelemetry/exporter-metrics-otlp-proto')).OTLPMetricExporter({ url: `${base}/v1/metrics`, headers, temporalityPreference: AggregationTemporality.DELTA });
    }
    // Each exporter wrapped: how long an export takes to be acknowledged, and how many items it carried.
    const measured = (exporter, signal, count) => ({
      export: (items, done) => {
        const t0 = performance.now();
        exporter.export(items, (result) => {
          latencies.push(performance.now() - t0);
          if (result.code === 0) acked[signal] += count(items);
          else failed += count(items);
          done(result);
        });
      },
      shutdown: () => exporter.shutdown(),
      forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
      selectAggregationTemporality: exporter.selectAggregationTemporality?.bind(exporter),
      selectAggregation: exporter.selectAggregation?.bind(exporter),
    });
    const resource = resourceFromAttributes({ 'service.name': project, 'project.name': project });
    const batch = { maxQueueSize: 100_000, maxExportBatchSize: 2_000, scheduledDelayMillis: 500 };
    const tracer = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(measured(traceExporter, 'traces', (s) => s.length), batch)] });
    const loggers = new LoggerProvider({ resource, processors: [new BatchLogRecordProcessor({ exporter: measured(logExporter, 'logs', (l) => l.length), ...batch })] });
    const points = (rm) => rm.scopeMetrics.reduce((n, sm) => n + sm.metrics.reduce((m, metric) => m + metric.dataPoints.length, 0), 0);
    const meters = new MeterProvider({ resource, readers: [new PeriodicExportingMetricReader({ exporter: measured(metricExporter, 'metrics', points), exportIntervalMillis: 1_000 })] });
    const t = tracer.getTracer('soak');
    const logger = loggers.getLogger('soak');
    const histogram = meters.getMeter('soak').createHistogram('soak.value', { unit: 'ms' });
    const counter = meters.getMeter('soak').createCounter('soak.count');
    let tick = 0;
    while (Date.now() < deadline) {
      for (let i = 0; i < perTick; i++) {
        t.startSpan('soak.span', { attributes: { i } }).end();
        logger.emit({ body: `soak line ${tick}.${i}`, severityText: 'INFO', severityNumber: 9 });
        histogram.record(i, { series: String(i % 20) });
        counter.add(1, { series: String(i % 20) });
      }
      tracked += perTick * 2;
      tick++;
      await sleep(tickMs);
    }
    await tracer.forceFlush();
    await loggers.forceFlush();
    await meters.forceFlush();
    await Promise.all([tracer.shutdown(), loggers.shutdown(), meters.shutdown()]);
  }
  const report = { kind, tracked, acked, failed, p50: Math.round(percentile(latencies, 0.5)), p99: Math.round(percentile(latencies, 0.99)), max: Math.round(Math.max(0, ...latencies)) };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

// ---------------------------------------------------------------------------------------------- helpers

function run(cliArgs, env) {
  return runNode([CLI, ...cliArgs], env);
}

async function chQuery(endpoint, role, sql) {
  const res = await fetch(`${endpoint}/?database=telemetry&default_format=JSONEachRow`, {
    method: 'POST',
    body: sql,
    headers: { Authorization: 'Basic ' + Buffer.from(`${role.AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME}:${role.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD}`).toString('base64') },
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

async function rssMb(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /VmRSS:\s+(\d+)/.exec(status);
  return kb ? Math.round(Number(kb[1]) / 1024) : undefined;
}

function percentile(values, p) {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

