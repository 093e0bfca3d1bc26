// Owns sending a stream of JSON lines through the SDK: constant memory, backpressure, per-line rejections with line numbers.

import type { AutomagikTelemetry } from './client.js';
import { EventLineError, parseEventLine } from './event-line.js';

export interface BulkOptions {
  /** Stop at the first bad line. */
  strict?: boolean;
  /** Called for every bad line, with its 1-based number. */
  onReject?: (line: number, reason: string) => void;
  /** How long to keep retrying, reading paused, while the store does not answer (default 60 s). */
  waitForStoreMs?: number;
  /** Called once when the store stops answering and reading pauses. */
  onStoreDown?: (reason: string) => void;
  /** Called now and then with the counts so far. */
  onProgress?: (counts: { read: number; rejected: number; sent: number }) => void;
  /** Longest line accepted, in bytes (default 1 MiB); a longer one is rejected without being held in memory. */
  maxLineBytes?: number;
  /** Stops the reading (Ctrl-C): an unfinished last line is dropped, what was read is still sent. */
  signal?: AbortSignal;
  /** Epoch milliseconds: events stamped before it are counted in `old` (they are sent all the same). */
  oldBefore?: number;
  /** Kept current while reading, for a caller that must report counts before the result (a second Ctrl-C). */
  counts?: BulkCounts;
}

export interface BulkCounts {
  read: number;
  rejected: number;
}

export interface BulkResult {
  /** Non-empty lines read. */
  read: number;
  /** Lines refused as malformed. */
  rejected: number;
  /** Events the store accepted. */
  sent: number;
  /** Events that could not be delivered (refused by the server, or the server unreachable). */
  failed: number;
  /** True when --strict stopped the reading early. */
  stoppedEarly: boolean;
  /** True when the store stayed unreachable past waitForStoreMs and reading stopped. */
  storeGaveUp: boolean;
  /** True when `signal` stopped the reading. */
  interrupted: boolean;
  /** Events stamped before `oldBefore`. */
  old: number;
  durationMs: number;
  errors: string[];
}

/** The default longest line (`send --stdin --max-line-bytes`). */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

/** Reads lines from `source`, tracks each good one, and flushes everything at the end. */
export async function sendLines(source: AsyncIterable<Buffer | string>, client: AutomagikTelemetry, batchSize: number, options: BulkOptions = {}): Promise<BulkResult> {
  const started = performance.now();
  let read = 0;
  let rejected = 0;
  let lineNumber = 0;
  let stoppedEarly = false;
  let partial = '';
  let lastProgress = 0;
  const highWater = batchSize * 4;
  const errors: string[] = [];
  const sentBefore = client.stats().sent;
  let storeGaveUp = false;
  let interrupted = false;
  let old = 0;
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;

  const handle = (line: string): boolean => {
    lineNumber++;
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (text.trim() === '') return true;
    read++;
    if (options.counts) options.counts.read = read;
    try {
      if (tooLong(text, maxLineBytes)) throw new EventLineError(`line is longer than ${maxLineBytes} bytes (--max-line-bytes)`);
      const event = parseEventLine(text);
      if (options.oldBefore !== undefined && event.options.timestamp !== undefined && new Date(event.options.timestamp).getTime() < options.oldBefore) old++;
      client.trackEvent(event.name, event.attributes, event.options);
      return true;
    } catch (error) {
      rejected++;
      if (options.counts) options.counts.rejected = rejected;
      options.onReject?.(lineNumber, (error as Error).message);
      return !options.strict;
    }
  };

  // A line longer than maxLineBytes is reported once, then skipped up to its newline (never held in memory).
  let skipping = false;
  const chunks = source[Symbol.asyncIterator]();
  const stopped = new Promise<'stopped'>((resolve) => {
    if (options.signal?.aborted) resolve('stopped');
    options.signal?.addEventListener('abort', () => resolve('stopped'), { once: true });
  });
  reading: for (;;) {
    const next = await Promise.race([chunks.next(), stopped]);
    if (next === 'stopped') {
      interrupted = true;
      void chunks.return?.();
      break;
    }
    if (next.done) break;
    const chunk = next.value;
    let text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (skipping) {
      const end = text.indexOf('\n');
      if (end === -1) continue;
      skipping = false;
      text = text.slice(end + 1);
    }
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    if (tooLong(partial, maxLineBytes)) {
      lines.push(partial);
      partial = '';
      skipping = true;
    }
    for (const line of lines) {
      if (!handle(line)) {
        stoppedEarly = true;
        break reading;
      }
    }
    if (client.stats().queued >= highWater) {
      const failedBefore = client.stats().failedBatches;
      const ok = await client.whenQueuedBelow(highWater, { waitForStoreMs: options.waitForStoreMs ?? 60_000 });
      if (client.stats().failedBatches > failedBefore) options.onStoreDown?.('the store did not answer; reading paused while retrying');
      if (!ok) {
        storeGaveUp = true;
        break reading;
      }
    }
    if (options.signal?.aborted) {
      interrupted = true;
      break;
    }
    const now = performance.now();
    if (options.onProgress && now - lastProgress > 250) {
      lastProgress = now;
      options.onProgress({ read, rejected, sent: client.stats().sent - sentBefore });
    }
  }
  if (!stoppedEarly && !storeGaveUp && !interrupted && partial !== '') handle(partial);

  let flushed = await client.flush();
  // The store may come back while we finish: keep retrying what is left for as long as we would have waited.
  const deadline = Date.now() + (storeGaveUp ? 0 : (options.waitForStoreMs ?? 60_000));
  while (flushed.pending > 0 && Date.now() < deadline) {
    options.onStoreDown?.('the store did not answer; retrying what is left');
    await new Promise((r) => setTimeout(r, 500));
    flushed = await client.flush();
  }
  errors.push(...flushed.errors);
  const stats = client.stats();
  return {
    read,
    rejected,
    sent: stats.sent - sentBefore,
    failed: read - rejected - (stats.sent - sentBefore),
    stoppedEarly,
    storeGaveUp,
    interrupted,
    old,
    durationMs: Math.round(performance.now() - started),
    errors,
  };
}

/** More than `max` bytes as UTF-8 (counted only when the length alone cannot tell: a UTF-16 unit is 1 to 3 bytes). */
function tooLong(text: string, max: number): boolean {
  return text.length > max || (text.length * 3 > max && Buffer.byteLength(text) > max);
}
