// Owns AutomagikTelemetry, the SDK's face: track events, batch them, send through a backend, never throw into the host app.

import { randomUUID } from 'node:crypto';
import { TelemetryError } from '../errors.js';
import { packageVersion } from '../paths.js';
import { ClickHouseBackend } from './backends/clickhouse.js';
import { OtlpBackend } from './backends/otlp.js';
import type { Backend, Batch } from './backends/types.js';
import { createDebug } from './debug.js';
import { makeEvent, type Attributes, type QueuedEvent, type ResourceInfo, type TrackOptions } from './event.js';
import { resolveSdkOptions, type AutomagikTelemetryOptions, type ResolvedOptions } from './options.js';
import { BoundedQueue } from './queue.js';
import { DEFAULT_RETRY, SendError, withRetries } from './retry.js';

export interface TelemetryStats {
  /** Events waiting to be sent (including batches waiting for a retry). */
  queued: number;
  /** Events the store accepted. */
  sent: number;
  /** Retry attempts made. */
  retried: number;
  /** Events dropped because the queue was full, or left unsent at shutdown. */
  dropped: number;
  /** Events refused for good (invalid for the server, or a non-retryable error). */
  failed: number;
  /** Batches that failed (each may be retried later if the failure was retryable). */
  failedBatches: number;
}

export interface FlushResult {
  /** Events accepted during this flush. */
  sent: number;
  /** Events refused for good during this flush. */
  failed: number;
  /** Events still queued after it (the store was unreachable). */
  pending: number;
  durationMs: number;
  /** Messages of the failures met during this flush. */
  errors: string[];
}

const NOOP_RESULT: FlushResult = { sent: 0, failed: 0, pending: 0, durationMs: 0, errors: [] };

export class AutomagikTelemetry {
  private readonly options: ResolvedOptions | undefined;
  private readonly backend: Backend | undefined;
  private readonly resource: ResourceInfo | undefined;
  private readonly queue: BoundedQueue<QueuedEvent>;
  private readonly retryBatches: Batch[] = [];
  /** Events taken from the queue whose batch is being sent: they still count against maxQueueSize. */
  private inFlightEvents = 0;
  private readonly counters = { sent: 0, retried: 0, dropped: 0, failed: 0, failedBatches: 0 };
  private readonly onError: (error: Error) => void;
  private readonly debug = createDebug('automagik:sdk');
  private readonly timer: NodeJS.Timeout | undefined;
  private autoFlush: Promise<unknown> | undefined;
  private flushScheduled = false;
  private flushChain: Promise<unknown> = Promise.resolve();
  private waiters: Array<() => void> = [];
  private closed = false;
  private exitHandler: (() => void) | undefined;

  constructor(options: AutomagikTelemetryOptions = {}, env: NodeJS.ProcessEnv = process.env) {
    this.onError = (error) => {
      this.debug(`error: ${error.message}`);
      try {
        options.onError?.(error);
      } catch {
        // The host's own handler threw; nothing sensible is left to tell.
      }
    };
    let resolved: ResolvedOptions | undefined;
    try {
      resolved = resolveSdkOptions(options, env);
    } catch (error) {
      // A misconfigured SDK must not take the app down: it reports once and tracks nothing.
      this.onError(error as Error);
      if (!options.onError) process.emitWarning(`automagik-telemetry disabled: ${(error as Error).message}`, 'AutomagikTelemetryWarning');
    }
    this.options = resolved?.enabled ? resolved : undefined;
    this.queue = new BoundedQueue(this.options?.maxQueueSize ?? 1);
    if (!this.options) return;
    const version = packageVersion();
    this.backend = this.options.backend === 'clickhouse' ? new ClickHouseBackend(this.options, version) : new OtlpBackend(this.options, version);
    this.resource = {
      projectName: this.options.projectName,
      version: this.options.version,
      environment: this.options.environment,
      serviceName: this.options.serviceName,
    };
    this.timer = setInterval(() => void this.flushFull(true), this.options.flushIntervalMs);
    this.timer.unref();
  }

  /** Whether events are being tracked (false when disabled or misconfigured). */
  get enabled(): boolean {
    return this.options !== undefined && !this.closed;
  }

  /** Records one event. Never throws: bad arguments are reported through onError and the event is skipped. */
  trackEvent(name: string, attributes?: Attributes, options?: TrackOptions): void {
    if (!this.options || this.closed) return;
    let event: QueuedEvent;
    try {
      event = makeEvent(name, attributes, options);
    } catch (error) {
      this.onError(new TelemetryError('E_CONFIG', `trackEvent(${JSON.stringify(name)}): ${(error as Error).message}`));
      return;
    }
    const dropped = this.queue.push(event, this.retryEvents() + this.inFlightEvents);
    if (dropped > 0) {
      this.counters.dropped += dropped;
      this.debug(`queue full (${this.options.maxQueueSize}): dropped ${dropped} oldest event(s)`);
    }
    // Sending is scheduled, never done inside trackEvent: the host's code path only pays for queueing.
    if (this.queue.size >= this.options.batchSize && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        void this.flushFull(false);
      }).unref();
    }
  }

  /** Records an error as an ERROR event named "error", with OpenTelemetry's exception.* attributes. */
  trackError(error: unknown, attributes?: Attributes, options?: TrackOptions): void {
    const e = error instanceof Error ? error : new Error(String(error));
    this.trackEvent(
      'error',
      { 'exception.type': e.name, 'exception.message': e.message, 'exception.stacktrace': e.stack ?? '', ...attributes },
      { ...options, status: 'error', statusMessage: e.message },
    );
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

  /** Sends everything queued now (waiting for sends already under way). Resolves (never rejects) with what happened. */
  flush(): Promise<FlushResult> {
    if (!this.options) return Promise.resolve({ ...NOOP_RESULT });
    const started = performance.now();
    const before = { ...this.counters };
    const errors: string[] = [];
    const run = this.flushChain.then(async () => {
      await this.autoFlush;
      await this.drain(true, errors);
    });
    this.flushChain = run.catch(() => undefined);
    return run.then(
      () => ({
        sent: this.counters.sent - before.sent,
        failed: this.counters.failed - before.failed,
        pending: this.stats().queued,
        durationMs: Math.round(performance.now() - started),
        errors,
      }),
      (error: unknown) => {
        this.onError(error as Error);
        return { ...NOOP_RESULT, errors: [String(error)] };
      },
    );
  }

  /** Resolves once fewer than `count` events are queued, sending full batches meanwhile (backpressure for bulk senders). */
  /**
   * Resolves once fewer than `count` events are queued, sending full batches meanwhile: backpressure for bulk
   * senders, so nothing is dropped. While the store is unreachable it keeps retrying, every `retryEveryMs`, for at
   * most `waitForStoreMs`; then it resolves false (the caller decides what to do with what is left).
   */
  async whenQueuedBelow(count: number, options: { waitForStoreMs?: number; retryEveryMs?: number } = {}): Promise<boolean> {
    const giveUpAt = Date.now() + (options.waitForStoreMs ?? 0);
    while (this.enabled && this.stats().queued >= count) {
      if (this.retryBatches.length > 0) {
        // The store did not answer: wait, then try the oldest batch again.
        if (Date.now() >= giveUpAt) return false;
        await new Promise((r) => setTimeout(r, options.retryEveryMs ?? 500));
        await this.flushFull(false);
        continue;
      }
      void this.flushFull(false);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return true;
  }

  /** Flushes, stops the timer, and tracks nothing more. What could not be sent is counted as dropped. */
  async shutdown(): Promise<FlushResult> {
    if (this.closed) return { ...NOOP_RESULT };
    const result = await this.flush();
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.exitHandler) process.off('beforeExit', this.exitHandler);
    const left = this.queue.size + this.retryEvents();
    if (left > 0) {
      this.counters.dropped += left;
      this.queue.take(left);
      this.retryBatches.length = 0;
      this.onError(new TelemetryError('E_CLICKHOUSE', `shutdown left ${left} event(s) unsent: ${result.errors.at(-1) ?? 'the store did not answer'}`));
    }
    return result;
  }

  /** Opt-in: flush when the event loop empties (process 'beforeExit'), so short scripts do not lose their last events. */
  registerExitHandlers(): void {
    if (!this.options || this.exitHandler) return;
    let done = false;
    this.exitHandler = () => {
      if (done) return;
      done = true;
      void this.shutdown();
    };
    process.on('beforeExit', this.exitHandler);
  }

  stats(): TelemetryStats {
    return {
      queued: this.queue.size + this.retryEvents() + this.inFlightEvents,
      ...this.counters,
    };
  }

  /** Starts sending full batches in the background, once at a time. */
  private flushFull(includePartial: boolean): Promise<unknown> {
    if (!this.autoFlush) {
      this.autoFlush = this.drain(includePartial)
        .catch((error: unknown) => this.onError(error as Error))
        .finally(() => {
          this.autoFlush = undefined;
          this.notify();
        });
    }
    return this.autoFlush;
  }

  /**
   * Sends batches with up to maxConcurrentBatches in flight, until the queue is empty (or holds less than a batch,
   * when `includePartial` is false) or the store stops answering (retryable failure after all retries).
   */
  private async drain(includePartial: boolean, errors: string[] = []): Promise<void> {
    const options = this.options as ResolvedOptions;
    let storeDown = false;
    const next = (): Batch | undefined => {
      const retry = this.retryBatches.shift();
      if (retry) return retry;
      if (this.queue.size === 0 || (!includePartial && this.queue.size < options.batchSize)) return undefined;
      return { events: this.queue.take(options.batchSize), id: randomUUID() };
    };
    const worker = async () => {
      for (let batch = next(); batch && !storeDown; batch = storeDown ? undefined : next()) {
        const ok = await this.sendBatch(batch, errors);
        if (!ok) storeDown = true;
      }
    };
    await Promise.all(Array.from({ length: options.maxConcurrentBatches }, worker));
  }

  /** One batch with retries. False when the store is unreachable (the batch is kept for a later attempt). */
  private async sendBatch(batch: Batch, errors: string[]): Promise<boolean> {
    const options = this.options as ResolvedOptions;
    const backend = this.backend as Backend;
    const started = performance.now();
    const size = batch.events.length;
    let requeue = false;
    this.inFlightEvents += size;
    try {
      const { value } = await withRetries(() => backend.send(batch, this.resource as ResourceInfo), { ...DEFAULT_RETRY, maxRetries: options.maxRetries }, (error, retry, delay) => {
        this.counters.retried++;
        this.debug(`retry ${retry}/${options.maxRetries} in ${delay} ms: ${error.message}`);
      });
      this.counters.sent += value.accepted;
      if (value.rejected > 0) {
        this.counters.failed += value.rejected;
        const message = `${value.rejected} event(s) rejected by ${backend.target}: ${value.message}`;
        errors.push(message);
        this.onError(new TelemetryError('E_CLICKHOUSE', message));
      }
      this.debug(`Flushed ${value.accepted} rows to ${backend.name === 'clickhouse' ? 'ClickHouse' : 'OTLP'} in ${Math.round(performance.now() - started)} ms`);
      return true;
    } catch (error) {
      const failure = error as SendError;
      this.counters.failedBatches++;
      errors.push(failure.message);
      this.onError(failure);
      if (failure.retryable) {
        requeue = true;
        return false;
      }
      this.counters.failed += batch.events.length;
      return true;
    } finally {
      this.inFlightEvents -= size;
      if (requeue) {
        this.retryBatches.unshift(batch);
        this.enforceBound();
      }
      this.notify();
    }
  }

  private retryEvents(): number {
    return this.retryBatches.reduce((n, b) => n + b.events.length, 0);
  }

  /** A batch put back for a retry can push the total over maxQueueSize: drop the oldest events (those retry batches hold first). */
  private enforceBound(): void {
    const max = (this.options as ResolvedOptions).maxQueueSize;
    let excess = this.queue.size + this.retryEvents() + this.inFlightEvents - max;
    while (excess > 0 && this.retryBatches.length > 0) {
      const oldest = this.retryBatches[0] as Batch;
      const cut = Math.min(excess, oldest.events.length);
      oldest.events.splice(0, cut);
      if (oldest.events.length === 0) this.retryBatches.shift();
      this.counters.dropped += cut;
      excess -= cut;
    }
  }

  /** Wakes whoever waits in whenQueuedBelow to look at the queue again. */
  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((w) => w());
  }
}
