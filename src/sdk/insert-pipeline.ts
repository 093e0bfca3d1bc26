// Owns delivering prebuilt batches with a known outcome: a few requests in flight while the next batch is built, each
// batch under one dedup token for all its attempts, retried with backoff until the store says stored or refused.

import { nodeCrypto } from './lazy-crypto.js';
import { backoffDelay, DEFAULT_RETRY } from './export/retrying.js';
import { post } from './export/transport.js';
import type { Trust } from '../tls/fetch.js';
import type { HttpAnswer } from './export/types.js';

/** What one answer says about a batch: stored, known not stored, or unknown (it may have landed). */
export type Outcome =
  | { kind: 'stored'; refused: number; message: string }
  | { kind: 'refused'; message: string }
  | { kind: 'unknown'; message: string; retryAfterMs?: number };

/** Where batches go: the request for a body under a dedup token, and the reading of an answer. */
export interface Destination {
  request(token: string): { url: string; headers: Record<string, string> };
  /** The CA an https destination is verified against (the SDK's ca / caFile, or the local stack's). */
  trust?: Trust;
  read(answer: HttpAnswer, rows: number): Outcome;
}

export interface PipelineOptions {
  /** Requests in flight at once: 2 keeps the store busy while the next batch is built. */
  maxInFlight: number;
  /** One attempt's limit, in milliseconds. */
  timeoutMs: number;
  /** gzip each request body (the same bytes on every attempt). */
  compression?: boolean;
  /** How long the store may stay unanswering before the batches left are given up as unconfirmed. */
  waitForStoreMs: number;
  /** Called when an attempt's outcome is unknown and the batch will be tried again. */
  onRetry?: (message: string) => void;
}

export interface PipelineCounts {
  /** Rows the store acknowledged. */
  sent: number;
  /** Rows known not stored: refused by the store. */
  failed: number;
  /** Rows whose outcome stayed unknown when the store did not come back in time (they may or may not be stored). */
  unconfirmed: number;
  errors: string[];
}

export class InsertPipeline {
  readonly counts: PipelineCounts = { sent: 0, failed: 0, unconfirmed: 0, errors: [] };
  /** True once a batch was given up for lack of an answer: the caller stops reading. */
  gaveUp = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly run = nodeCrypto().randomUUID();
  private sequence = 0;
  /** When the store last stopped answering (undefined while it answers). */
  private downSince: number | undefined;

  constructor(
    private readonly destination: Destination,
    private readonly options: PipelineOptions,
  ) {}

  /** Rows in batches not yet settled. */
  get pendingRows(): number {
    return this.pending;
  }

  private pending = 0;

  /**
   * Sends a batch (to `target` when given, else where the destination says); resolves once there is room for the
   * next one (the reader's backpressure).
   */
  async push(body: Uint8Array, rows: number, target?: { url: string; headers: Record<string, string> }): Promise<void> {
    while (this.inFlight.size >= this.options.maxInFlight) await Promise.race(this.inFlight);
    const token = `${this.run}-${this.sequence++}`;
    this.pending += rows;
    const delivery: Promise<void> = this.deliver(body, rows, target ?? this.destination.request(token)).finally(() => {
      this.pending -= rows;
      this.inFlight.delete(delivery);
    });
    this.inFlight.add(delivery);
  }

  /** Resolves when every batch pushed is settled. */
  async finish(): Promise<PipelineCounts> {
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    return this.counts;
  }

  private async deliver(body: Uint8Array, rows: number, { url, headers }: { url: string; headers: Record<string, string> }): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const answer = await post(url, body, headers, { timeoutMs: this.options.timeoutMs, compression: this.options.compression === true, ...(this.destination.trust ? { trust: this.destination.trust } : {}) });
      const outcome: Outcome = typeof answer === 'string' ? { kind: 'unknown', message: answer } : this.destination.read(answer, rows);
      if (outcome.kind === 'stored') {
        this.downSince = undefined;
        this.counts.sent += rows - outcome.refused;
        if (outcome.refused > 0) {
          this.counts.failed += outcome.refused;
          this.counts.errors.push(outcome.message);
        }
        return;
      }
      if (outcome.kind === 'refused') {
        this.counts.failed += rows;
        this.counts.errors.push(outcome.message);
        return;
      }
      // Unknown: the batch may be stored already. The same token on every attempt makes a repeat a no-op in the store.
      const downSince = (this.downSince ??= Date.now());
      if (this.gaveUp || Date.now() - downSince >= this.options.waitForStoreMs) {
        this.gaveUp = true;
        this.counts.unconfirmed += rows;
        this.counts.errors.push(outcome.message);
        return;
      }
      this.options.onRetry?.(outcome.message);
      const delay = backoffDelay(attempt, DEFAULT_RETRY, outcome.retryAfterMs);
      await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, downSince + this.options.waitForStoreMs - Date.now()) + 10)));
    }
  }
}
