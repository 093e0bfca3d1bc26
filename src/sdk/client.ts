// Owns AutomagikTelemetry, the SDK's face: consent, tracking, and the host's exit; never throws into the host app.

import { join } from 'node:path';
import { TelemetryError } from '../errors.js';
import { packageVersion } from '../paths.js';
import { createDebug, type DebugFn } from './debug.js';
import { makeEvent, type Attributes, type QueuedEvent, type TrackOptions } from './event.js';
import { encodeEvent } from './event-record.js';
import { installExitHandlers, type ExitOptions } from './exit.js';
import { loadExport } from './export/pipeline.js';
import { credentialHint, resolveSdkOptions, type AutomagikTelemetryOptions, type ResolvedOptions } from './options.js';
import { optOutReason } from './privacy/consent.js';
import { anonymousId, installDir } from './privacy/identity.js';
import { createScrubber } from './privacy/scrubber.js';
import { BatchProcessor } from './processor.js';
import { CounterTotals, describe, makeLog, makeMetric, type LogOptions, type MetricOptions, type QueuedLog, type QueuedMetric } from './signal-items.js';
import { NOOP_RESULT, type FlushResult, type TelemetryStats } from './results.js';
import { Spool } from './spool.js';

export type { FlushResult, TelemetryStats } from './results.js';

/** Clients with unsent events at exit, reported under DEBUG when their app registered no exit handlers. */
const unwatched = new Set<AutomagikTelemetry>();
let exitReportInstalled = false;

export class AutomagikTelemetry {
  private readonly options: ResolvedOptions | undefined;
  private readonly processor: BatchProcessor | undefined;
  private readonly onError: (error: Error) => void;
  private readonly debug: DebugFn;
  private readonly reported = new Set<string>();
  private readonly userId: string | undefined;
  private flushChain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private removeExitHandlers: (() => void) | undefined;
  private readonly env: NodeJS.ProcessEnv;
  private readonly counterTotals = new CounterTotals();
  /** Why the client tracks nothing: the user's opt-out, enabled: false, or a configuration error. */
  readonly disabledReason: string | undefined;

  constructor(options: AutomagikTelemetryOptions = {}, env: NodeJS.ProcessEnv = process.env) {
    this.env = env;
    this.debug = createDebug('automagik:sdk', env);
    this.onError = (error) => {
      this.debug(`error: ${error.message}`);
      try {
        options.onError?.(error);
      } catch {
        // The host's own handler threw; nothing sensible is left to tell.
      }
    };
    // The user's opt-out wins over the app's code, and is checked before anything else: no file, no socket.
    const optedOut = optOutReason(env);
    if (optedOut || options.enabled === false) {
      this.disabledReason = optedOut ? `the user opted out (${optedOut})` : 'enabled: false';
      this.debug(`disabled: ${this.disabledReason}`);
      return;
    }
    let resolved: ResolvedOptions;
    try {
      resolved = resolveSdkOptions(options, env);
    } catch (error) {
      // A misconfigured SDK must not take the app down: it reports once and tracks nothing.
      this.disabledReason = `misconfigured: ${(error as Error).message}`;
      this.onError(error as Error);
      if (!options.onError) process.emitWarning(`automagik-telemetry disabled: ${(error as Error).message}`, 'AutomagikTelemetryWarning');
      return;
    }
    this.options = resolved;
    if (resolved.identify === 'anonymous') this.userId = anonymousId(env);
    const spool = new Spool(resolved.spoolDir ?? join(installDir(env), 'spool', safeName(resolved.projectName)), resolved.spoolMaxBytes, (events) => {
      if (this.processor) this.processor.counters.dropped += events;
      this.debug(`spool ${spool.dir} over ${resolved.spoolMaxBytes} bytes: dropped ${events} oldest event(s)`);
    });
    this.processor = new BatchProcessor(
      {
        batchSize: resolved.batchSize,
        maxQueueSize: resolved.maxQueueSize,
        maxConcurrentBatches: resolved.maxConcurrentBatches,
        flushIntervalMs: resolved.flushIntervalMs,
        resource: { projectName: resolved.projectName, version: resolved.version, environment: resolved.environment, serviceName: resolved.serviceName },
        sdkVersion: packageVersion(),
        scrub: resolved.scrub === 'off' ? undefined : createScrubber(resolved.scrub, env),
        spool,
        durable: resolved.spoolDir !== undefined,
        backend: resolved.backend,
      },
      () => loadExport(resolved, credentialHint(resolved, env), (retry, delay, message) => {
        if (this.processor) this.processor.counters.retried++;
        this.debug(`retry ${retry}/${resolved.maxRetries} in ${delay} ms: ${message}`);
      }),
      (error) => this.reportOnce(error),
      this.debug,
    );
    if (this.debug.enabled) watchExit(this);
  }

  /** Whether events are being tracked (false when disabled, opted out or misconfigured). */
  get enabled(): boolean {
    return this.processor !== undefined && !this.closed;
  }

  /**
   * The anonymous install id (a random UUID in ~/.automagik/user_id, created on first use), sent as user.id only
   * with identify: 'anonymous'. Undefined when the client is disabled: an opted-out user gets no file written.
   */
  get anonymousId(): string | undefined {
    if (!this.processor) return undefined;
    return this.userId ?? anonymousId(this.env);
  }

  /** Records one event. Never throws: bad arguments are reported through onError and the event is skipped. */
  trackEvent(name: string, attributes?: Attributes, options?: TrackOptions): void {
    this.trackWith(name, attributes, options, undefined);
  }

  /**
   * Records an error as an ERROR event named "error", with OpenTelemetry's exception.* attributes, and the same
   * attributes as the span's "exception" event (where OpenTelemetry tools look for a recorded exception).
   */
  trackError(error: unknown, attributes?: Attributes, options?: TrackOptions): void {
    const e = error instanceof Error ? error : new Error(String(error));
    const exception = { 'exception.type': e.name, 'exception.message': e.message, 'exception.stacktrace': e.stack ?? '' };
    this.trackWith('error', { ...exception, ...attributes }, { ...options, status: 'error', statusMessage: e.message }, exception);
  }

  /**
   * Records one metric data point: a gauge reading (the default), a counter increment (sent, as OpenTelemetry SDKs
   * do, as the running total of its series) or one histogram observation. Never throws: a non-finite value or an
   * unknown type is reported through onError and the point skipped.
   */
  trackMetric(name: string, value: number, options: MetricOptions = {}): void {
    if (!this.processor || this.closed) return;
    let item: QueuedMetric;
    try {
      item = makeMetric(name, value, options ?? {}, this.counterTotals);
    } catch (error) {
      this.onError(new TelemetryError('E_CONFIG', `trackMetric(${describe(name)}): ${(error as Error)?.message}`));
      return;
    }
    this.processor.push(item);
  }

  /** Records one log line with an OTLP severity ('info' by default). Never throws: bad arguments go to onError. */
  trackLog(message: string, options: LogOptions = {}): void {
    if (!this.processor || this.closed) return;
    let item: QueuedLog;
    try {
      item = makeLog(message, options ?? {});
    } catch (error) {
      this.onError(new TelemetryError('E_CONFIG', `trackLog(${describe(typeof message === 'string' ? message.slice(0, 40) : message)}): ${(error as Error)?.message}`));
      return;
    }
    if (this.userId !== undefined && item.record.attributes['user.id'] === undefined) item.record.attributes['user.id'] = this.userId;
    this.processor.push(item);
  }

  private trackWith(name: string, attributes: Attributes | undefined, options: TrackOptions | undefined, exception: Record<string, string> | undefined): void {
    if (!this.processor || this.closed) return;
    let event: QueuedEvent;
    try {
      if (exception === undefined && this.userId === undefined && this.processor.compacting) {
        const encoded = encodeEvent(name, attributes, options ?? {}, Date.now());
        if (encoded !== undefined) {
          this.processor.push(encoded);
          return;
        }
      }
      event = makeEvent(name, attributes, options);
    } catch (error) {
      this.onError(new TelemetryError('E_CONFIG', `${exception ? 'trackError' : 'trackEvent'}(${JSON.stringify(name)}): ${(error as Error).message}`));
      return;
    }
    if (exception) event.exception = exception;
    if (this.userId !== undefined && event.attributes['user.id'] === undefined) event.attributes['user.id'] = this.userId;
    this.processor.push(event);
  }

  /** Times `fn` and records it as an event: OK when it resolves, ERROR (then rethrown) when it throws. */
  async span<T>(name: string, fn: () => Promise<T> | T, attributes?: Attributes): Promise<T> {
    const startedAt = Date.now();
    const started = performance.now();
    try {
      const value = await fn();
      this.trackEvent(name, attributes, { durationMs: performance.now() - started, timestamp: startedAt });
      return value;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.trackEvent(name, { ...attributes, 'exception.message': message }, { durationMs: performance.now() - started, timestamp: startedAt, status: 'error', statusMessage: message });
      throw error;
    }
  }

  /** Sends everything held now, including what an earlier run left in the spool. Resolves (never rejects) with what happened. */
  flush(): Promise<FlushResult> {
    const processor = this.processor;
    if (!processor) return Promise.resolve({ ...NOOP_RESULT });
    const started = performance.now();
    const before = { ...processor.counters };
    const errors: string[] = [];
    const run = this.flushChain.then(() => processor.flush(errors));
    this.flushChain = run.catch(() => undefined);
    return run.then(
      () => ({
        sent: processor.counters.sent - before.sent,
        failed: processor.counters.failed - before.failed,
        pending: processor.pending,
        durationMs: Math.round(performance.now() - started),
        errors,
      }),
      (error: unknown) => {
        this.onError(error as Error);
        return { ...NOOP_RESULT, errors: [String(error)] };
      },
    );
  }

  /**
   * Resolves once fewer than `count` events are held, sending full batches meanwhile: backpressure for bulk
   * senders, so nothing is dropped. While the store is unreachable it keeps retrying, every `retryEveryMs`, for at
   * most `waitForStoreMs`; then it resolves false (the caller decides what to do with what is left).
   */
  async whenQueuedBelow(count: number, options: { waitForStoreMs?: number; retryEveryMs?: number } = {}): Promise<boolean> {
    if (!this.processor || this.closed) return true;
    return this.processor.whenQueuedBelow(count, options.waitForStoreMs ?? 0, options.retryEveryMs ?? 500);
  }

  /**
   * Flushes, stops the timer, and tracks nothing more. What could not be sent goes to the spool when the app has a
   * spoolDir or registered exit handlers (the next run sends it); otherwise it is counted as dropped.
   */
  async shutdown(): Promise<FlushResult> {
    if (this.closed || !this.processor) return { ...NOOP_RESULT };
    const result = await this.flush();
    this.closed = true;
    this.processor.stop();
    unwatched.delete(this);
    const left = this.processor.unsentInMemory;
    if (left > 0) {
      const reason = result.errors.at(-1) ?? 'the store did not answer';
      const spool = this.options?.spoolDir !== undefined || this.removeExitHandlers !== undefined;
      const kept = spool ? this.processor.spoolUnsent() : 0;
      if (!spool) this.processor.dropUnsent();
      const where = kept > 0 ? `; kept in the spool for the next run` : '';
      this.onError(new TelemetryError(this.options?.backend === 'clickhouse' ? 'E_CLICKHOUSE' : 'E_OTLP', `shutdown left ${left} event(s) unsent: ${reason}${where}`));
    }
    this.removeExitHandlers?.();
    return result;
  }

  /**
   * Makes sure nothing is lost when the process ends: a natural exit flushes; SIGTERM and SIGINT flush within
   * `deadlineMs` (default 2 s), then the process ends as it would have (the host's own handlers decide, when it has
   * some); process.exit() and uncaught exceptions write what is unsent to the spool, which the next client of this
   * project on this machine sends.
   */
  registerExitHandlers(options: ExitOptions = {}): void {
    const processor = this.processor;
    if (!processor || this.removeExitHandlers || this.closed) return;
    unwatched.delete(this);
    this.removeExitHandlers = installExitHandlers(
      {
        shutdown: () => this.shutdown(),
        flush: () => this.flush(),
        spoolUnsent: () => {
          const written = processor.spoolUnsent();
          if (written > 0) this.debug(`wrote ${written} unsent event(s) to the spool at exit; the next run sends them`);
          return written;
        },
      },
      options,
    );
  }

  stats(): TelemetryStats {
    const counters = this.processor?.counters ?? { sent: 0, retried: 0, dropped: 0, failed: 0, failedBatches: 0, spooled: 0 };
    return { queued: this.processor?.pending ?? 0, ...counters };
  }

  /** The same failure (say, a refused password on every batch) is reported once, not once a batch. */
  private reportOnce(error: TelemetryError): void {
    const key = error.message.replace(/\d+ event/g, 'N event');
    if (this.reported.has(key)) {
      this.debug(`error (again): ${error.message}`);
      return;
    }
    if (this.reported.size < 100) this.reported.add(key);
    this.onError(error);
  }

  /** @internal for the exit report */
  unsentAtExit(): number {
    return this.processor?.unsentInMemory ?? 0;
  }
}

function watchExit(client: AutomagikTelemetry): void {
  unwatched.add(client);
  if (exitReportInstalled) return;
  exitReportInstalled = true;
  process.on('exit', () => {
    for (const c of unwatched) {
      const left = c.unsentAtExit();
      if (left > 0) process.stderr.write(`automagik:sdk ${left} event(s) left unsent at exit: call flush() or shutdown() before exiting, or registerExitHandlers()\n`);
    }
  });
}

/** A project name as one folder name: no separators, and no "." or ".." that would climb out of the spool. */
export function safeName(projectName: string): string {
  return projectName.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\./, '_').slice(0, 100) || '_';
}
