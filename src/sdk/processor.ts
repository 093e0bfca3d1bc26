// Owns batching: the bounded queue of tagged items, the flush timer, batches in flight, retries later, and the spool.

import { TelemetryError } from '../errors.js';
import type { DebugFn } from './debug.js';
import { nodeCrypto } from './lazy-crypto.js';
import { spanOf, type ResourceInfo } from './event.js';
import type { Batch, Export, QueuedItem, Signal } from './export/types.js';
import { prepareLog, prepareMetric } from './signal-items.js';
import { EncodedQueue } from './encoded-queue.js';
import { decodeEvent } from './event-record.js';
import type { Spool, SpoolClaim } from './spool.js';
import type { TelemetryStats } from './results.js';

export interface ProcessorOptions {
  batchSize: number;
  maxQueueSize: number;
  maxConcurrentBatches: number;
  flushIntervalMs: number;
  resource: ResourceInfo;
  sdkVersion: string;
  /** Cleans an event's text as its batch is formed (before it is spooled or sent). */
  scrub: ((text: string) => string) | undefined;
  /** Where unsent batches go at exit, and where batches left by earlier runs are found. */
  spool: Spool;
  /** Every batch is written to the spool before it is sent (kept across kill -9 and while the store is down). */
  durable: boolean;
  backend: 'otlp' | 'clickhouse';
}

/** The processor's share of stats(): everything but what is queued, which the client adds. */
export type ProcessorCounters = Omit<TelemetryStats, 'queued'>;

interface InFlight {
  batch: Batch;
  claim: SpoolClaim | undefined;
}

export class BatchProcessor {
  private readonly queue: EncodedQueue<QueuedItem>;
  /** Batches whose retries are spent while the store was unreachable (kept in memory when not durable). */
  private readonly retryBatches: Batch[] = [];
  private readonly inFlight = new Map<string, InFlight>();
  private inFlightEvents = 0;
  readonly counters: ProcessorCounters = { sent: 0, retried: 0, dropped: 0, failed: 0, failedBatches: 0, spooled: 0 };
  private readonly timer: NodeJS.Timeout;
  private running: Promise<void> | undefined;
  private flushScheduled = false;
  private waiters: Array<() => void> = [];
  private storeDown = false;
  /** Whether the store has answered a batch yet (taken or refused it). */
  private answered = false;
  private exported: Export | undefined;

  constructor(
    private readonly options: ProcessorOptions,
    /** Resolved on first use, so the exporters (and protobufjs) load only when something is sent. */
    private readonly loadExport: () => Promise<Export>,
    private readonly report: (error: TelemetryError) => void,
    private readonly debug: DebugFn,
  ) {
    this.queue = new EncodedQueue<QueuedItem>(options.maxQueueSize, decodeEvent);
    this.timer = setInterval(() => void this.drainInBackground(true), options.flushIntervalMs);
    this.timer.unref();
    // Batches an earlier run of this project left in the spool go out with the first flush; if there are any, soon.
    setImmediate(() => {
      if (options.spool.scan() > 0) {
        this.debug(`found ${options.spool.pendingEvents} event(s) left by an earlier run in ${options.spool.dir}`);
        void this.drainInBackground(true);
      }
    }).unref();
  }

  /** Events held in memory or on disk, not yet accepted by the store. */
  get pending(): number {
    return this.queue.size + this.retryEvents() + this.inFlightEvents + this.options.spool.pendingEvents;
  }

  get unsentInMemory(): number {
    return this.queue.size + this.retryEvents() + this.inFlightEvents;
  }

  /**
   * Until the store has answered a batch, and while it does not answer, what is queued may wait long and churn (the
   * oldest dropped): the client then queues events as compact text (event-record.ts) that the queue keeps off the JS
   * heap, where the garbage collector has nothing long-lived to carry. Once it answers, they pass as objects, at no
   * cost to trackEvent.
   */
  get compacting(): boolean {
    return !this.answered || this.storeDown || this.retryBatches.length > 0;
  }

  /** Queues an item; a string is an event in its encoded form. */
  push(item: QueuedItem | string): void {
    const dropped = this.queue.push(item, this.retryEvents() + this.inFlightEvents);
    if (dropped > 0) {
      this.counters.dropped += dropped;
      this.debug(`queue full (${this.options.maxQueueSize}): dropped ${dropped} oldest event(s)`);
    }
    // Sending is scheduled, never done inside trackEvent: the host's code path only pays for queueing. While the
    // store is down, the flush timer (and whoever waits in whenQueuedBelow) tries again, not every event pushed:
    // each try builds the waiting batch's request anew.
    if (this.queue.size >= this.options.batchSize && !this.flushScheduled && !this.storeDown) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        void this.drainInBackground(false);
      }).unref();
    }
  }

  /** Sends everything (waiting for a drain under way first); `errors` collects the failures met. */
  async flush(errors: string[]): Promise<void> {
    // One drain at a time: a flush waits for the one under way, then runs its own (which background drains wait for).
    while (this.running) await this.running;
    this.storeDown = false;
    this.options.spool.scan();
    const own = this.drain(true, errors).finally(() => {
      this.running = undefined;
      this.notify();
    });
    this.running = own;
    await own;
  }

  /** Resolves once fewer than `count` events are pending, retrying while the store is down for at most waitForStoreMs. */
  async whenQueuedBelow(count: number, waitForStoreMs: number, retryEveryMs: number): Promise<boolean> {
    const giveUpAt = Date.now() + waitForStoreMs;
    while (this.pending >= count) {
      if (this.storeDown) {
        if (Date.now() >= giveUpAt) return false;
        await new Promise((r) => setTimeout(r, retryEveryMs));
        this.storeDown = false;
        await this.drainInBackground(false);
        continue;
      }
      void this.drainInBackground(false);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return true;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Drops everything held in memory, counted (shutdown without a spool). Returns how many. */
  dropUnsent(): number {
    const left = this.queue.size + this.retryEvents();
    this.queue.take(this.queue.size);
    this.retryBatches.length = 0;
    this.counters.dropped += left;
    return left;
  }

  /**
   * Writes what is not yet sent to the spool, synchronously (it runs in process 'exit' and signal handlers):
   * batches in flight (the store may have them already: the next run's copy is deduplicated), batches waiting for a
   * retry, and the queue. Returns how many events were written.
   */
  spoolUnsent(): number {
    const spool = this.options.spool;
    let written = 0;
    try {
      for (const { batch, claim } of this.inFlight.values()) {
        if (claim) spool.release(claim);
        else if (spool.write(batch)) written += batch.events.length;
      }
      this.inFlight.clear();
      this.inFlightEvents = 0;
      for (const batch of this.retryBatches.splice(0)) if (spool.write(batch)) written += batch.events.length;
      while (this.queue.size > 0) {
        for (const batch of this.form(this.queue.take(this.options.batchSize))) if (spool.write(batch)) written += batch.events.length;
      }
    } catch (error) {
      this.report(new TelemetryError('E_CONFIG', `cannot write unsent events to the spool ${spool.dir}: ${(error as Error).message}`, { cause: error }));
    }
    this.counters.spooled += written;
    return written;
  }

  private retryEvents(): number {
    return this.retryBatches.reduce((n, b) => n + b.events.length, 0);
  }

  /**
   * Batches from queued items, one per signal present (in the order each first appears): spans built and
   * everything scrubbed now, an id kept for good.
   */
  private form(items: QueuedItem[]): Batch[] {
    const bySignal = new Map<Signal, QueuedItem[]>();
    const scrub = this.options.scrub;
    for (const item of items) {
      if (item.signal === 'span') spanOf(item, scrub);
      else if (item.signal === 'log') prepareLog(item, scrub);
      else prepareMetric(item, scrub);
      const list = bySignal.get(item.signal);
      if (list) list.push(item);
      else bySignal.set(item.signal, [item]);
    }
    return [...bySignal].map(([signal, events]) => ({ id: nodeCrypto().randomUUID(), signal, events, resource: this.options.resource, sdkVersion: this.options.sdkVersion }));
  }

  private drainInBackground(includePartial: boolean): Promise<void> {
    if (!this.running) {
      this.running = this.drain(includePartial, [])
        .catch((error: unknown) => this.report(error instanceof TelemetryError ? error : new TelemetryError('E_CONFIG', String((error as Error)?.message ?? error))))
        .finally(() => {
          this.running = undefined;
          this.notify();
        });
    }
    return this.running;
  }

  /** The next batch to send: a retry, then the spool's oldest, then a new batch from the queue. */
  private next(includePartial: boolean): InFlight | undefined {
    const retry = this.retryBatches.shift();
    if (retry) return { batch: retry, claim: undefined };
    const claim = this.options.spool.pendingEvents > 0 ? this.options.spool.claim() : undefined;
    if (claim) return { batch: claim.batch, claim };
    if (this.queue.size === 0 || (!includePartial && this.queue.size < this.options.batchSize)) return undefined;
    const [batch, ...others] = this.form(this.queue.take(this.options.batchSize)) as [Batch, ...Batch[]];
    let written: SpoolClaim | undefined;
    if (this.options.durable) {
      try {
        written = this.options.spool.write(batch, true);
        // The other signals' batches of the same items wait in the spool, whence the next turns claim them.
        for (const other of others) this.options.spool.write(other);
        others.length = 0;
      } catch (error) {
        this.report(new TelemetryError('E_CONFIG', `cannot write to the spool ${this.options.spool.dir}: ${(error as Error).message}`, { cause: error }));
      }
    }
    // Without a durable spool they wait in memory, sent next (as batches put back for a retry are).
    this.retryBatches.push(...others);
    return { batch, claim: written };
  }

  /** Sends batches, maxConcurrentBatches at a time, until none is left (or less than a full one) or the store is down. */
  private async drain(includePartial: boolean, errors: string[]): Promise<void> {
    // Nothing to send: the exporters (and protobufjs) stay unloaded in an app that has not tracked anything yet.
    if (this.queue.size === 0 && this.retryBatches.length === 0 && this.options.spool.pendingEvents === 0) return;
    this.exported ??= await this.loadExport();
    const worker = async () => {
      for (let item = this.next(includePartial); item; item = this.storeDown ? undefined : this.next(includePartial)) {
        await this.send(item, errors);
        if (this.storeDown) break;
      }
    };
    await Promise.all(Array.from({ length: this.options.maxConcurrentBatches }, worker));
    if (this.storeDown && this.options.durable) this.park(includePartial);
  }

  /** The store is down and the spool is durable: what is queued goes to disk now rather than waiting in memory. */
  private park(includePartial: boolean): void {
    try {
      while (this.queue.size >= (includePartial ? 1 : this.options.batchSize)) {
        for (const batch of this.form(this.queue.take(this.options.batchSize))) this.options.spool.write(batch);
      }
    } catch (error) {
      this.report(new TelemetryError('E_CONFIG', `cannot write to the spool ${this.options.spool.dir}: ${(error as Error).message}`, { cause: error }));
    }
  }

  private async send(item: InFlight, errors: string[]): Promise<void> {
    const { batch, claim } = item;
    const size = batch.events.length;
    const started = performance.now();
    this.inFlight.set(batch.id, item);
    this.inFlightEvents += size;
    const result = await (this.exported as Export)(batch);
    if (!this.inFlight.delete(batch.id)) {
      // Spooled meanwhile (a signal's deadline passed and the host went on): the spool's copy is sent again later,
      // and deduplicated if this attempt landed.
      this.notify();
      return;
    }
    this.inFlightEvents -= size;
    const spool = this.options.spool;
    if (result.code === 'success') {
      this.storeDown = false;
      this.answered = true;
      if (claim) spool.remove(claim);
      this.counters.sent += result.accepted;
      if (result.rejected > 0) {
        this.counters.failed += result.rejected;
        const error = new TelemetryError(this.exportCode(), `${result.rejected} event(s) rejected: ${result.message}`);
        errors.push(error.message);
        this.report(error);
      }
      this.debug(`Flushed ${result.accepted} rows to ${this.exportCode() === 'E_OTLP' ? 'OTLP' : 'ClickHouse'} in ${Math.round(performance.now() - started)} ms`);
    } else {
      this.counters.failedBatches++;
      errors.push(result.error.message);
      this.report(result.error);
      if (result.code === 'failed') {
        // Refused is an answer: batches do not wait for this store, so events need not wait compact.
        this.answered = true;
        if (claim) spool.remove(claim);
        this.counters.failed += size;
      } else {
        // The store did not answer: the batch waits (on disk when it has a file, else in memory) and the drain stops.
        this.storeDown = true;
        if (claim) spool.release(claim);
        else {
          this.retryBatches.unshift(batch);
          this.enforceBound();
        }
      }
    }
    this.notify();
  }

  private exportCode(): 'E_OTLP' | 'E_CLICKHOUSE' {
    return this.options.backend === 'otlp' ? 'E_OTLP' : 'E_CLICKHOUSE';
  }

  /** A batch put back for a retry can push the total over maxQueueSize: drop the oldest events (those retry batches hold first). */
  private enforceBound(): void {
    let excess = this.queue.size + this.retryEvents() + this.inFlightEvents - this.options.maxQueueSize;
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
