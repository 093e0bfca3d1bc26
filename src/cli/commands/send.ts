// Owns `send`: one event (--event), metric point (--metric) or log line (--log), or a stream of JSON lines (--stdin),
// stored before it returns; Ctrl-C keeps what was read.

import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { isLoopback } from '../../config/index.js';
import { TelemetryError } from '../../errors.js';
import { packageVersion, templatePath } from '../../paths.js';
import { DEFAULT_MAX_LINE_BYTES, sendLines, type BulkCounts, type EventSink } from '../../sdk/bulk.js';
import { clickhouseDestination, rowSink } from '../../sdk/bulk-rows.js';
import { spanSink } from '../../sdk/bulk-spans.js';
import { AutomagikTelemetry } from '../../sdk/client.js';
import { EVENT_LINE_FIELDS } from '../../sdk/event-line.js';
import { sdkOptionsForStack } from '../../sdk/from-stack.js';
import { credentialHint, resolveSdkOptions, type AutomagikTelemetryOptions, type BackendName } from '../../sdk/options.js';
import { anonymousId } from '../../sdk/privacy/identity.js';
import { createScrubber } from '../../sdk/privacy/scrubber.js';
import { LOG_LINE_FIELDS, METRIC_LINE_FIELDS } from '../../signals/lines.js';
import type { SignalSender } from '../../signals/sender.js';
import { routeLines, type RouteCounts } from '../../signals/stdin.js';
import { EXIT } from '../errors.js';
import { assertListening, authFailure } from '../failures.js';
import { numberFlag } from '../flags.js';
import { stackCommand, type Cli, type Stack } from '../stack.js';
import type { Ui } from '../ui.js';
import { sendSignal, signalSenderFor, type SignalFlags } from '../send-signals.js';

interface SendOptions extends SignalFlags {
  event?: string;
  attr: string[];
  status?: string;
  duration?: string;
  project?: string;
  backend?: string;
  stdin?: boolean;
  strict?: boolean;
  batchSize?: string;
  maxLineBytes?: string;
  json?: boolean;
}

/** How many rejected lines are printed one by one before the rest are only counted. */
const SHOWN_REJECTIONS = 100;
/** After Ctrl-C, how long what was read may take to be stored before the command gives up on it. */
const INTERRUPT_DEADLINE_MS = 5_000;

export function register(program: Command, cli: Cli): void {
  stackCommand(
    cli,
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
      .option('--batch-size <n>', 'with --stdin: events per request at most (default 5000; a request also ends at 4 MiB)')
      .option('--max-line-bytes <n>', `with --stdin: the longest line accepted (default ${DEFAULT_MAX_LINE_BYTES}, 1 MiB); longer ones are rejected`)
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
Events older than the store's retention (90 days) are accepted but deleted soon after: send warns with their count.
Ctrl-C stops reading and sends what was read (up to 5 s), then exits 130; a second Ctrl-C quits at once.
Exit 0 only when every line was stored; 3 when the stack is not running.

Examples:
  $ automagik-telemetry send --event deploy --attr version=1.4.2 --duration 5400
  $ automagik-telemetry send --event job.failed --status error --backend clickhouse --json
  $ automagik-telemetry send --metric checkout.latency --value 182 --type histogram --unit ms
  $ automagik-telemetry send --log "disk almost full" --severity warn --attr volume=/data
  $ cat events.jsonl | automagik-telemetry send --stdin`,
      ),
    send,
  );
}

export async function send(stack: Stack, options: SendOptions): Promise<number> {
  const { ui, config } = stack;
  const env = ui.io.env;
  const backend = backendOf(options.backend, env);
  const what = [options.event !== undefined && '--event', options.metric !== undefined && '--metric', options.log !== undefined && '--log', options.stdin && '--stdin'].filter(Boolean);
  if (what.length === 0) throw new TelemetryError('E_CONFIG', 'say what to send: --event <name>, --metric <name> --value <n>, --log <message>, or --stdin for JSON lines');
  if (what.length > 1) throw new TelemetryError('E_CONFIG', `${what.join(' and ')} do not go together: pick one`);
  const errors: string[] = [];
  const projectName = options.project ?? env.AUTOMAGIK_TELEMETRY_PROJECT_NAME ?? 'cli';
  const batchSize = options.stdin ? numberFlag(options.batchSize, '--batch-size', { fallback: 5000, min: 1, whole: true }) : 1;
  if (options.metric !== undefined || options.log !== undefined) {
    if (options.backend === 'clickhouse') throw new TelemetryError('E_CONFIG', '--metric and --log go through OTLP: leave out --backend clickhouse');
    const otlp = sdkOptionsForStack(config, env).endpoint;
    if (otlp !== undefined && URL.canParse(otlp)) await assertListening(new URL(otlp), stack);
    return sendSignal(ui, signalSenderFor(config, env, projectName, 1), projectName, options);
  }
  const maxLineBytes = numberFlag(options.maxLineBytes, '--max-line-bytes', { fallback: DEFAULT_MAX_LINE_BYTES, min: 1, whole: true });
  const sdk = sdkOptionsForStack(config, env);
  const target = backend === 'otlp' ? (sdk.endpoint ?? env.AUTOMAGIK_TELEMETRY_ENDPOINT) : (sdk.clickhouseEndpoint ?? env.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT);
  // A stack that is not running fails now, not after the SDK's retries (those are for a store that goes away mid-send).
  if (target !== undefined && URL.canParse(target)) await assertListening(new URL(target), stack);
  // gzip only pays across a network: to this machine it halves bulk throughput (measured), so it is off by default.
  const local = target !== undefined && URL.canParse(target) && isLoopback(new URL(target).hostname);
  const compression = env.AUTOMAGIK_TELEMETRY_COMPRESSION === undefined && local ? { compression: false } : {};
  const sdkOptions: AutomagikTelemetryOptions = { ...sdk, ...compression, projectName, backend, clickhouseBatchSize: batchSize, maxQueueSize: Math.max(10_000, batchSize * 8), onError: (e) => errors.push(e.message) };
  const client = new AutomagikTelemetry(sdkOptions, env);
  if (errors.length > 0) throw new TelemetryError('E_CONFIG', errors[0] ?? 'invalid settings');
  // The machine's opt-out governs the SDK inside apps; asked to send explicitly, say why nothing would go instead.
  if (client.disabledReason !== undefined) {
    throw new TelemetryError('E_CONFIG', `nothing was sent: telemetry is turned off on this machine (${client.disabledReason})`, {
      hint: 'That opt-out applies to every automagik-telemetry SDK on this machine; lift it for this command to send.',
    });
  }
  if (!options.stdin) return sendOne(stack, client, backend, projectName, options, errors);
  const signals = signalSenderFor(config, env, projectName, batchSize, (reason) => ui.err(ui.ce.yellow(`${reason} (logs and metrics, up to 60 s)`)));
  const warn = onceWarning(ui);
  const sink = bulkSink(sdkOptions, env, batchSize, warn);
  return sendStdin(stack, client, backend, sink, warn, maxLineBytes, options, signals);
}

/** The store-down warning, printed once a run. */
function onceWarning(ui: Ui): (reason: string) => void {
  let warned = false;
  return (reason) => {
    if (!warned) ui.err(ui.ce.yellow(`${reason} (up to 60 s)`));
    warned = true;
  };
}

/**
 * Where `send --stdin` puts its event lines: on the ClickHouse backend each line's row goes straight into the INSERT
 * body (no span objects); on OTLP each line becomes a span in a batch encoded once. Both take the SDK's resolved
 * resource, scrubbing and identity (what is stored is what the SDK would store) and send through the pipeline that
 * keeps each batch's outcome known (insert-pipeline.ts), two requests in flight.
 */
function bulkSink(sdkOptions: AutomagikTelemetryOptions, env: NodeJS.ProcessEnv, batchSize: number, onStoreDown: (reason: string) => void): EventSink {
  const resolved = resolveSdkOptions(sdkOptions, env);
  const resource = { projectName: resolved.projectName, version: resolved.version, environment: resolved.environment, serviceName: resolved.serviceName };
  const scrub = resolved.scrub === 'off' ? {} : { scrub: createScrubber(resolved.scrub, env) };
  const identity = resolved.identify === 'anonymous' ? { userId: anonymousId(env) } : {};
  const hint = credentialHint(resolved, env);
  if (resolved.backend === 'otlp') return spanSink(resolved, hint, { batchSize, resource, sdkVersion: packageVersion(), ...scrub, ...identity, onStoreDown });
  return rowSink({ resource, ...scrub, ...identity }, clickhouseDestination(resolved, hint), { batchSize, timeoutMs: resolved.timeoutMs, compression: resolved.compression, onStoreDown });
}

function backendOf(value: string | undefined, env: NodeJS.ProcessEnv): BackendName {
  const backend = value ?? env.AUTOMAGIK_TELEMETRY_BACKEND ?? 'otlp';
  if (backend !== 'otlp' && backend !== 'clickhouse') throw new TelemetryError('E_CONFIG', `--backend ${JSON.stringify(backend)} is not one of otlp, clickhouse`);
  return backend;
}

/** A send that failed for lack of credentials, told with where they came from; undefined for other failures. */
async function authProblem(stack: Stack, messages: string[]): Promise<TelemetryError | undefined> {
  const auth = messages.find((m) => /\b(401|403)\b|AUTHENTICATION_FAILED|REQUIRED_PASSWORD|WRONG_PASSWORD|authentication failed/i.test(m));
  return auth === undefined ? undefined : authFailure(stack.config, 'ingest', auth);
}

async function sendOne(stack: Stack, client: AutomagikTelemetry, backend: BackendName, projectName: string, options: SendOptions, errors: string[]): Promise<number> {
  const { ui } = stack;
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
    const messages = [...errors, ...result.errors];
    throw (
      (await authProblem(stack, messages)) ??
      new TelemetryError('E_CLICKHOUSE', `the event was not stored: ${messages[0] ?? 'no answer'}`, { hint: `Check the stack with \`automagik-telemetry status\`.` })
    );
  }
  const event = { event: name, project: projectName, status, duration_ms: durationMs, attributes };
  if (options.json) ui.json({ sent: 1, backend, durationMs: result.durationMs, event });
  else ui.out(`sent ${JSON.stringify(name)} (project ${projectName}, ${status}${durationMs ? `, ${durationMs} ms` : ''}) through ${target} in ${result.durationMs} ms`);
  return EXIT.OK;
}

async function sendStdin(stack: Stack, client: AutomagikTelemetry, backend: BackendName, sink: EventSink, warn: (reason: string) => void, maxLineBytes: number, options: SendOptions, signals: SignalSender): Promise<number> {
  const { ui } = stack;
  let shown = 0;
  const showProgress = ui.io.stderr.isTTY === true && !options.json;
  const retentionDays = await traceRetentionDays();
  const counts: BulkCounts = { read: 0, rejected: 0 };
  // Log and metric lines are taken out of the stream on the way (they go through OTLP); events flow on to the SDK.
  const routed: RouteCounts = { read: 0, rejected: 0 };
  const notSent = () => counts.read + routed.read - counts.rejected - routed.rejected - sink.sent() - signals.sent;

  // Ctrl-C: the first stops the reading and sends what was read; the second quits at once.
  const interrupt = new AbortController();
  let deadline: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'deadline'>((resolve) => {
    interrupt.signal.addEventListener('abort', () => (deadline = setTimeout(() => resolve('deadline'), INTERRUPT_DEADLINE_MS)), { once: true });
  });
  const onSigint = () => {
    if (!interrupt.signal.aborted) {
      ui.err(`interrupted: sending the ${counts.read + routed.read - counts.rejected - routed.rejected} event(s) read (up to ${INTERRUPT_DEADLINE_MS / 1000} s; Ctrl-C again to quit now)`);
      interrupt.abort();
      return;
    }
    ui.err(`interrupted twice: ${notSent()} event(s) read were not sent`);
    process.exit(EXIT.INTERRUPTED);
  };
  process.on('SIGINT', onSigint);
  const input = ui.io.stdin ?? process.stdin;
  const onReject = (line: number, reason: string) => {
    if (shown++ < SHOWN_REJECTIONS) ui.err(`line ${line}: ${reason}`);
  };
  try {
    const source = routeLines(input, signals, routed, { onReject, maxLineBytes, ...(options.strict ? { strict: true } : {}) });
    const sending = sendLines(source, sink, {
      ...(options.strict ? { strict: true } : {}),
      maxLineBytes,
      counts,
      signal: interrupt.signal,
      oldBefore: Date.now() - retentionDays * 86_400_000,
      onStoreDown: warn,
      onReject,
      ...(showProgress ? { onProgress: (c) => ui.io.stderr.write(`\r… read ${c.read}, sent ${c.sent}, rejected ${c.rejected}`) } : {}),
    });
    const outcome = await Promise.race([sending, gaveUp]);
    if (showProgress) ui.io.stderr.write('\r\x1b[K');
    if (outcome === 'deadline') {
      const sent = sink.sent() + signals.sent;
      ui.err(`sent ${sent}, rejected ${counts.rejected + routed.rejected}, not sent ${notSent()}`);
      ui.err(`interrupted: the store did not take the rest within ${INTERRUPT_DEADLINE_MS / 1000} s`);
      process.exit(EXIT.INTERRUPTED);
    }
    const signalStats = await signals.flush();
    await client.shutdown();
    // One summary for the whole stream: events through the SDK, logs and metrics through the signal sender.
    const result = {
      ...outcome,
      read: outcome.read + routed.read,
      rejected: outcome.rejected + routed.rejected,
      sent: outcome.sent + signalStats.sent,
      failed: outcome.failed + signalStats.failed,
      stoppedEarly: outcome.stoppedEarly || (options.strict === true && routed.rejected > 0),
      errors: [...outcome.errors, ...signalStats.errors],
    };
    if (result.rejected > SHOWN_REJECTIONS) ui.err(`… and ${result.rejected - SHOWN_REJECTIONS} more rejected lines`);
    if (result.sent === 0 && result.failed + result.unconfirmed > 0) {
      const auth = await authProblem(stack, result.errors);
      if (auth) throw auth;
    }
    const seconds = result.durationMs / 1000;
    const rate = seconds > 0 ? Math.round(result.sent / seconds) : result.sent;
    if (options.json) {
      ui.json({ backend, ...result, eventsPerSecond: rate });
    } else {
      for (const error of [...new Set(result.errors)].slice(0, 5)) ui.err(`${ui.ce.red('error')} ${error}`);
      if (result.stoppedEarly) ui.err('stopped at the first bad line (--strict)');
      if (result.storeGaveUp) ui.err('stopped reading: the store did not come back within 60 s');
      ui.err(
        `sent ${result.sent}, rejected ${result.rejected}${result.failed > 0 ? `, failed ${result.failed}` : ''}` +
          `${result.unconfirmed > 0 ? `, unconfirmed ${result.unconfirmed}` : ''}, in ${seconds.toFixed(2)} s, ${rate} events/s`,
      );
      if (result.unconfirmed > 0) ui.err(`${result.unconfirmed} event(s) unconfirmed: the store did not answer, so they may or may not be stored (count them before sending them again)`);
      if (result.interrupted) ui.err('interrupted');
    }
    if (result.old > 0) warnOld(ui, result.old, retentionDays);
    if (result.interrupted) return EXIT.INTERRUPTED;
    return result.rejected === 0 && result.failed === 0 && result.unconfirmed === 0 ? EXIT.OK : EXIT.FAILURE;
  } finally {
    process.off('SIGINT', onSigint);
    if (deadline) clearTimeout(deadline);
    // Reading is over: an input still open (a terminal, a producer still writing) must not keep the process alive.
    (input as { destroy?: () => void }).destroy?.();
  }
}

function warnOld(ui: Ui, count: number, days: number): void {
  ui.err(
    ui.ce.yellow(
      `warning: ${count} event(s) are older than the store's ${days}-day retention: they were accepted, and the store deletes them at its next clean-up (they will not show in queries for long, or at all)`,
    ),
  );
}

/** The traces table's retention, from the schema's TTL clause (90 days when it cannot be read). */
async function traceRetentionDays(): Promise<number> {
  const sql = await readFile(templatePath('init-db.sql'), 'utf8').catch(() => '');
  const match = /TTL\s+toDateTime\(timestamp\)\s*\+\s*INTERVAL\s+(\d+)\s+DAY/i.exec(sql);
  return match ? Number(match[1]) : 90;
}
