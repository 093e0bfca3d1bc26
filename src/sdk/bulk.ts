// Owns reading a stream of JSON event lines into a sink (the SDK client, or the row path): constant memory,
// backpressure, per-line rejections with line numbers.

import { EventLineError, parseEventLine, type EventLine } from './event-line.js';

/** Where parsed lines go: rows written straight into INSERTs (bulk-rows.ts) or spans in OTLP requests (bulk-spans.ts). */
export interface EventSink {
  /** Takes one line; throws EventLineError when the store could not hold it (the line is rejected by number). */
  add(event: EventLine): void;
  /** Backpressure, after each chunk read: resolves false when the store stayed down too long (reading stops). */
  ready(): Promise<boolean>;
  /** The input went quiet: send what waits for a full batch. */
  idle?(): void;
  /** Sends everything left and says what became of it. */
  finish(): Promise<SinkResult>;
  /** Events the store acknowledged so far. */
  sent(): number;
}

export interface SinkResult {
  sent: number;
  /** Known not stored. */
  failed: number;
  /** Outcome unknown: the store did not answer in time (they may or may not be stored). */
  unconfirmed: number;
  errors: string[];
}

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
  /** Events known not stored (refused by the store). */
  failed: number;
  /** Events whose outcome stayed unknown: the store did not answer before the wait ran out. */
  unconfirmed: number;
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

/** How long the input may stay quiet before a partial batch is sent (a producer that writes now and then). */
const IDLE_FLUSH_MS = 1_000;

/** Reads lines from `source`, hands each good one to `sink`, and finishes the sink at the end. */
export async function sendLines(source: AsyncIterable<Buffer | string>, sink: EventSink, options: BulkOptions = {}): Promise<BulkResult> {
  const started = performance.now();
  let read = 0;
  let rejected = 0;
  let lineNumber = 0;
  let stoppedEarly = false;
  let partial = '';
  let lastProgress = 0;
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
      const at = event.options.timestamp;
      if (options.oldBefore !== undefined && at !== undefined && (typeof at === 'number' ? at : new Date(at).getTime()) < options.oldBefore) old++;
      sink.add(event);
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
  // The wait for the next chunk ends early on Ctrl-C (signal) or, once, when the input goes quiet. Not a race against
  // one never-settling "stopped" promise: every race left a reaction on it holding that chunk, for the whole run.
  let wake: ((why: 'stopped') => void) | undefined;
  options.signal?.addEventListener('abort', () => wake?.('stopped'), { once: true });
  const nextChunk = (pending: Promise<IteratorResult<Buffer | string>>, quietMs: number | undefined) =>
    new Promise<IteratorResult<Buffer | string> | 'stopped' | 'quiet'>((resolve, reject) => {
      if (options.signal?.aborted) return resolve('stopped');
      wake = resolve;
      const timer = quietMs === undefined ? undefined : setTimeout(() => resolve('quiet'), quietMs).unref();
      pending.then(resolve, reject).finally(() => clearTimeout(timer));
    }).finally(() => (wake = undefined));
  reading: for (;;) {
    const pendingChunk = chunks.next();
    let next = await nextChunk(pendingChunk, sink.idle ? IDLE_FLUSH_MS : undefined);
    if (next === 'quiet') {
      sink.idle?.();
      next = await nextChunk(pendingChunk, undefined);
    }
    if (next === 'stopped' || next === 'quiet') {
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
    if (!(await sink.ready())) {
      storeGaveUp = true;
      break reading;
    }
    if (options.signal?.aborted) {
      interrupted = true;
      break;
    }
    const now = performance.now();
    if (options.onProgress && now - lastProgress > 250) {
      lastProgress = now;
      options.onProgress({ read, rejected, sent: sink.sent() });
    }
  }
  if (!stoppedEarly && !storeGaveUp && !interrupted && partial !== '') handle(partial);

  const done = await sink.finish();
  return {
    read,
    rejected,
    sent: done.sent,
    failed: done.failed,
    unconfirmed: done.unconfirmed,
    stoppedEarly,
    storeGaveUp: storeGaveUp || done.unconfirmed > 0,
    interrupted,
    old,
    durationMs: Math.round(performance.now() - started),
    errors: done.errors,
  };
}


/** More than `max` bytes as UTF-8 (counted only when the length alone cannot tell: a UTF-16 unit is 1 to 3 bytes). */
function tooLong(text: string, max: number): boolean {
  return text.length > max || (text.length * 3 > max && Buffer.byteLength(text) > max);
}
