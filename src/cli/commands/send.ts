// Owns `send` (one event, metric point or log line, or JSON lines from stdin) and `test` (a round trip through each backend).

import type { Command } from 'commander';
import { isLoopback } from '../../config/index.js';
import { TelemetryError } from '../../errors.js';
import { sendLines } from '../../sdk/bulk.js';
import { AutomagikTelemetry } from '../../sdk/client.js';
import { EVENT_LINE_FIELDS } from '../../sdk/event-line.js';
import { LOG_LINE_FIELDS, METRIC_LINE_FIELDS } from '../../signals/lines.js';
import { signalRoundTrip } from '../../signals/round-trip.js';
import { routeLines, type RouteCounts } from '../../signals/stdin.js';
import type { SignalSender } from '../../signals/sender.js';
import { sdkOptionsForStack } from '../../sdk/from-stack.js';
import type { BackendName } from '../../sdk/options.js';
import { roundTrip, SAMPLE } from '../../sdk/round-trip.js';
import { EXIT } from '../errors.js';
import { numberFlag } from '../flags.js';
import { stackContext, withStackOptions, type StackOptions } from '../context.js';
import type { Ui } from '../ui.js';
import { sendSignal, signalSenderFor, type SignalFlags } from './send-signals.js';

type Run = (action: () => Promise<number>) => Promise<void>;

interface SendOptions extends StackOptions, SignalFlags {
  event?: string;
  attr: string[];
  status?: string;
  duration?: string;
  project?: string;
  backend?: string;
  stdin?: boolean;
  strict?: boolean;
  batchSize?: string;
}

/** How many rejected lines are printed one by one before the rest are only counted. */
const SHOWN_REJECTIONS = 100;

function backendOf(value: string | undefined, env: NodeJS.ProcessEnv): BackendName {
  const backend = value ?? env.AUTOMAGIK_TELEMETRY_BACKEND ?? 'otlp';
  if (backend !== 'otlp' && backend !== 'clickhouse') throw new TelemetryError('E_CONFIG', `--backend ${JSON.stringify(backend)} is not one of otlp, clickhouse`);
  return backend;
}

export function registerSend(program: Command, ui: Ui, run: Run): void {
  withStackOptions(
    program
      .command('send')
      .description('send one event (--event), metric point (--metric) or log line (--log), or a stream of JSON lines (--stdin) to the running stack, and wait until they are stored')
      .option('-e, --event <name>', 'the event name')
      .option('--metric <name>', 'send one metric point (with --value, --type, --unit)')
      .option('--value <n>', 'with --metric: the value')
      .option('--type <kind>', 'with --metric: gauge, counter (an increment) or histogram (one observation); default gauge')
      .option('--unit <unit>', 'with --metric: the unit, e.g. ms or By')
      .option('--log <message>', 'send one log line (with --severity, --trace-id)')
      .option('--severity <level>', 'with --log: trace, debug, info, warn, error or fatal; default info')
      .option('--trace-id <id>', 'with --log: the trace (32 hex) the line belongs to')
      .option('-a, --attr <key=value>', 'an attribute (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
      .option('--status <status>', 'ok or error', 'ok')
      .option('--duration <ms>', 'how long the event took, in milliseconds')
      .option('--project <name>', 'project name (env AUTOMAGIK_TELEMETRY_PROJECT_NAME; default "cli")')
      .option('--backend <name>', 'otlp or clickhouse (env AUTOMAGIK_TELEMETRY_BACKEND; default otlp)')
      .option('--stdin', 'read events as JSON lines from standard input')
      .option('--strict', 'with --stdin: stop at the first bad line')
      .option('--batch-size <n>', 'with --stdin: events per request (default 5000)')
      .option('--json', 'print the result as JSON')
      .addHelpText(
        'after',
        `
JSON lines for --stdin, one object a line; only "event" is required:
  {"event": "user.signup", "attributes": {"plan": "pro", "seats": 3}, "status": "ok",
   "duration_ms": 12, "timestamp": "2026-11-26T10:00:00Z", "project": "web", "trace_id": "<32 hex>"}
Fields: ${EVENT_LINE_FIELDS.join(', ')}. "timestamp" is ISO-8601 or epoch milliseconds.
A "type" field sends metrics and logs on the same stream (default "event"; logs and metrics go through OTLP):
  {"type": "metric", "name": "queue.depth", "value": 12, "kind": "gauge", "unit": "{job}"}
  {"type": "log", "message": "payment retried", "severity": "warn", "trace_id": "<32 hex>"}
Metric fields: ${METRIC_LINE_FIELDS.join(', ')}. Log fields: ${LOG_LINE_FIELDS.join(', ')}.
A bad line is reported on stderr with its number and reason; every good line is still sent.
Exit 0 only when every line was stored.

Examples:
  $ automagik-telemetry send --event deploy --attr version=1.4.2 --duration 5400
  $ automagik-telemetry send --event job.failed --status error --backend clickhouse --json
  $ automagik-telemetry send --metric checkout.latency --value 182 --type histogram --unit ms
  $ automagik-telemetry send --log "disk almost full" --severity warn --attr volume=/data
  $ cat events.jsonl | automagik-telemetry send --stdin`,
      ),
  ).action((options: SendOptions) =>
    run(async () => {
      const env = ui.io.env;
      const backend = backendOf(options.backend, env);
      const what = [options.event !== undefined && '--event', options.metric !== undefined && '--metric', options.log !== undefined && '--log', options.stdin && '--stdin'].filter(Boolean);
      if (what.length === 0) throw new TelemetryError('E_CONFIG', 'say what to send: --event <name>, --metric <name> --value <n>, --log <message>, or --stdin for JSON lines');
      if (what.length > 1) throw new TelemetryError('E_CONFIG', `${what.join(' and ')} do not go together: pick one`);
      const { config } = await stackContext(options, ui);
      const errors: string[] = [];
      const projectName = options.project ?? env.AUTOMAGIK_TELEMETRY_PROJECT_NAME ?? 'cli';
      const batchSize = options.stdin ? numberFlag(options.batchSize, '--batch-size', { fallback: 5000, min: 1, whole: true }) : 1;
      if (options.metric !== undefined || options.log !== undefined) {
        if (options.backend === 'clickhouse') throw new TelemetryError('E_CONFIG', '--metric and --log go through OTLP: leave out --backend clickhouse');
        return sendSignal(ui, signalSenderFor(config, env, projectName, 1), projectName, options);
      }
      // gzip only pays across a network: to this machine it halves bulk throughput (measured), so it is off by default.
      const stack = sdkOptionsForStack(config, env);
      const target = backend === 'otlp' ? (stack.endpoint ?? env.AUTOMAGIK_TELEMETRY_ENDPOINT) : (stack.clickhouseEndpoint ?? env.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT);
      const local = target !== undefined && URL.canParse(target) && isLoopback(new URL(target).hostname);
      const compression = env.AUTOMAGIK_TELEMETRY_COMPRESSION === undefined && local ? { compression: false } : {};
      const client = new AutomagikTelemetry(
        {
          ...stack,
          ...compression,
          projectName,
          backend,
          clickhouseBatchSize: batchSize,
          maxQueueSize: Math.max(10_000, batchSize * 8),
          onError: (e) => errors.push(e.message),
        },
        env,
      );
      if (errors.length > 0) throw new TelemetryError('E_CONFIG', errors[0] ?? 'invalid settings');
      if (!options.stdin) return sendOne(ui, client, backend, projectName, options, errors);
      const signals = signalSenderFor(config, env, projectName, batchSize, (reason) => ui.err(ui.ce.yellow(`${reason} (logs and metrics, up to 60 s)`)));
      return sendStdin(ui, client, backend, batchSize, options, signals);
    }),
  );

  withStackOptions(
    program
      .command('test')
      .description('send a sample set (ok and error events, two projects; with OTLP also logs and metrics) through each backend and read it back from the store')
      .option('--backend <name>', 'otlp, clickhouse or both', 'both')
      .option('--timeout <ms>', 'how long to wait for the events to be readable', '10000')
      .option('--json', 'print the results as JSON'),
  ).action((options: StackOptions & { backend: string; timeout: string }) =>
    run(async () => {
      if (!['otlp', 'clickhouse', 'both'].includes(options.backend)) {
        throw new TelemetryError('E_CONFIG', `--backend ${JSON.stringify(options.backend)} is not one of otlp, clickhouse, both`);
      }
      const backends: BackendName[] = options.backend === 'both' ? ['otlp', 'clickhouse'] : [options.backend as BackendName];
      const timeoutMs = numberFlag(options.timeout, '--timeout', { fallback: 10_000, min: 1 });
      const { config } = await stackContext(options, ui);
      const sdk = sdkOptionsForStack(config, ui.io.env);
      const store = {
        url: sdk.clickhouseEndpoint ?? ui.io.env.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT ?? '',
        username: config.auth.username,
        password: config.auth.password,
        table: `${config.database}.traces`,
      };
      const results = [];
      for (const backend of backends) {
        const progress = options.json ? undefined : ui.progress(`${backend}: sending ${SAMPLE.length} sample events`);
        const result = await roundTrip(backend, sdk, store, timeoutMs);
        results.push(result);
        const line = `${backend}: ${result.sent}/${SAMPLE.length} sent, ${result.found}/${SAMPLE.length} read back, in ${result.roundTripMs} ms`;
        if (result.ok) progress?.succeed(line);
        else progress?.fail(`${line}${result.errors[0] ? ` (${result.errors[0]})` : ''}`);
      }
      // Logs and metrics travel over OTLP only: checked whenever the OTLP backend is.
      const signals = backends.includes('otlp')
        ? await signalRoundTrip(signalSenderFor(config, ui.io.env, 'automagik-telemetry-test', 100), { url: store.url, username: store.username, password: store.password, database: config.database }, timeoutMs)
        : [];
      for (const s of signals) {
        const line = `otlp ${s.signal}: ${s.found}/${s.signal === 'logs' ? 2 : 3} read back, in ${s.roundTripMs} ms`;
        if (options.json) continue;
        if (s.ok) ui.out(`${ui.c.green('✔')} ${line}`);
        else ui.err(`${ui.c.red('✖')} ${line}${s.errors[0] ? ` (${s.errors[0]})` : ''}`);
      }
      const ok = results.every((r) => r.ok) && signals.every((s) => s.ok);
      if (options.json) ui.json({ ok, results, signals });
      else ui.out(ok ? ui.c.green('round trip ok') : ui.c.red('round trip failed'));
      return ok ? EXIT.OK : EXIT.FAILURE;
    }),
  );
}

async function sendOne(ui: Ui, client: AutomagikTelemetry, backend: BackendName, projectName: string, options: SendOptions, errors: string[]): Promise<number> {
  const attributes: Record<string, string> = {};
  for (const pair of options.attr) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new TelemetryError('E_CONFIG', `--attr ${JSON.stringify(pair)} is not key=value`);
    attributes[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const status = (options.status ?? 'ok').toLowerCase();
  if (status !== 'ok' && status !== 'error') throw new TelemetryError('E_CONFIG', `--status ${JSON.stringify(options.status)} is not ok or error`);
  const durationMs = numberFlag(options.duration, '--duration', { fallback: 0 });
  const name = options.event as string;
  client.trackEvent(name, attributes, { status, durationMs });
  if (errors.length > 0) throw new TelemetryError('E_CONFIG', errors[0] ?? 'invalid event');
  const result = await client.shutdown();
  const target = backend === 'otlp' ? 'OTLP' : 'ClickHouse';
  if (result.sent !== 1) {
    throw new TelemetryError('E_CLICKHOUSE', `the event was not stored: ${errors[0] ?? result.errors[0] ?? 'no answer'}`, {
      hint: 'Is the stack running? Check with `automagik-telemetry status`.',
    });
  }
  const event = { event: name, project: projectName, status, duration_ms: durationMs, attributes };
  if (options.json) ui.json({ sent: 1, backend, durationMs: result.durationMs, event });
  else ui.out(`sent ${JSON.stringify(name)} (project ${projectName}, ${status}${durationMs ? `, ${durationMs} ms` : ''}) through ${target} in ${result.durationMs} ms`);
  return EXIT.OK;
}

async function sendStdin(ui: Ui, client: AutomagikTelemetry, backend: BackendName, batchSize: number, options: SendOptions, signals: SignalSender): Promise<number> {
  let shown = 0;
  const showProgress = ui.io.stderr.isTTY === true && !options.json;
  let warned = false;
  const routed: RouteCounts = { read: 0, rejected: 0 };
  const onReject = (line: number, reason: string) => {
    if (shown++ < SHOWN_REJECTIONS) ui.err(`line ${line}: ${reason}`);
  };
  const source = routeLines(process.stdin, signals, routed, { onReject, ...(options.strict ? { strict: true } : {}) });
  const events = await sendLines(source, client, batchSize, {
    ...(options.strict ? { strict: true } : {}),
    onStoreDown: (reason) => {
      if (!warned) ui.err(ui.ce.yellow(`${reason} (up to 60 s)`));
      warned = true;
    },
    onReject,
    ...(showProgress ? { onProgress: (c) => ui.io.stderr.write(`\r… read ${c.read}, sent ${c.sent}, rejected ${c.rejected}`) } : {}),
  });
  if (showProgress) ui.io.stderr.write('\r\x1b[K');
  const signalStats = await signals.flush();
  await client.shutdown();
  // One summary for the whole stream: events through the SDK, logs and metrics through the signal sender.
  const result = {
    ...events,
    read: events.read + routed.read,
    rejected: events.rejected + routed.rejected,
    sent: events.sent + signalStats.sent,
    failed: events.failed + signalStats.failed,
    stoppedEarly: events.stoppedEarly || (options.strict === true && routed.rejected > 0),
    errors: [...events.errors, ...signalStats.errors],
  };
  if (result.rejected > SHOWN_REJECTIONS) ui.err(`… and ${result.rejected - SHOWN_REJECTIONS} more rejected lines`);
  const seconds = result.durationMs / 1000;
  const rate = seconds > 0 ? Math.round(result.sent / seconds) : result.sent;
  if (options.json) {
    ui.json({ backend, ...result, eventsPerSecond: rate });
  } else {
    for (const error of [...new Set(result.errors)].slice(0, 5)) ui.err(`${ui.ce.red('error')} ${error}`);
    if (result.stoppedEarly) ui.err('stopped at the first bad line (--strict)');
    if (result.storeGaveUp) ui.err('stopped reading: the store did not come back within 60 s');
    ui.err(`sent ${result.sent}, rejected ${result.rejected}${result.failed > 0 ? `, failed ${result.failed}` : ''}, in ${seconds.toFixed(2)} s, ${rate} events/s`);
  }
  return result.rejected === 0 && result.failed === 0 ? EXIT.OK : EXIT.FAILURE;
}
