// Owns the row path of `send --stdin` on the ClickHouse backend: each line written as a `traces` row into the next
// INSERT body, batches cut by rows and bytes, sent pipelined with a dedup token each and an outcome always known.

import { BatchQueue } from './batch-queue.js';
import type { EventSink } from './bulk.js';
import { EventRowWriter, type RowContext } from './event-row.js';
import { insertFailure, insertHeaders, insertUrl } from './export/clickhouse.js';
import type { HttpAnswer } from './export/types.js';
import { InsertPipeline, type Destination, type Outcome } from './insert-pipeline.js';
import type { ResolvedOptions } from './options.js';
import { TRACE_COLUMNS } from '../transform/row.js';

export interface RowSinkOptions {
  /** Rows per INSERT at most. */
  batchSize: number;
  /** Bytes per INSERT at most (a batch of long lines is cut earlier). */
  maxBatchBytes?: number;
  /** INSERTs in flight at once. */
  maxInFlight?: number;
  waitForStoreMs?: number;
  onStoreDown?: (reason: string) => void;
}

/** 4 MiB: big enough that a request's fixed cost vanishes, small enough that two in flight and one building stay light. */
export const DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** Rows gathered as text before they are encoded into the batch's buffer. */
const PENDING_CHARS = 16 * 1024;
/** Room past the byte limit for the rows that cross it (up to PENDING_CHARS of text, at most 3 bytes a unit). */
const ROW_SLACK = 3 * PENDING_CHARS + 64 * 1024;

/** INSERTs into the traces table of `options`, read as the SDK's ClickHouse backend reads them. */
export function clickhouseDestination(options: ResolvedOptions, authHint: string): Destination {
  const headers = insertHeaders(options);
  return {
    request: (token) => ({ url: insertUrl(options, options.clickhouseTable, TRACE_COLUMNS, token), headers }),
    ...(options.trust ? { trust: options.trust } : {}),
    read(answer: HttpAnswer): Outcome {
      if (answer.status === 200) return { kind: 'stored', refused: 0, message: '' };
      const failure = insertFailure(options, authHint, answer);
      return failure.code === 'retryable' ? { kind: 'unknown', message: failure.error.message, retryAfterMs: failure.retryAfterMs } : { kind: 'refused', message: failure.error.message };
    },
  };
}

/** A sink that writes each line's row into the body being built and hands full bodies to the pipeline. */
export function rowSink(context: RowContext, destination: Destination, options: RowSinkOptions & { timeoutMs: number; compression?: boolean }): EventSink {
  const writer = new EventRowWriter(context);
  const maxBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
  let warned = false;
  const pipeline = new InsertPipeline(destination, {
    maxInFlight: options.maxInFlight ?? 2,
    timeoutMs: options.timeoutMs,
    compression: options.compression === true,
    waitForStoreMs: options.waitForStoreMs ?? 60_000,
    onRetry: () => {
      if (!warned) options.onStoreDown?.('the store did not answer; reading paused while retrying');
      warned = true;
    },
  });
  // Rows are gathered in a short string and encoded into the batch's buffer some 16 KB at a time: no string of the
  // whole batch is ever built (its pieces lived long enough to reach the old generation, and flattening it cost more
  // than the encoding), and one write call serves dozens of rows.
  let body = Buffer.allocUnsafe(maxBytes + ROW_SLACK);
  let used = 0;
  let pending = '';
  let rows = 0;
  const queue = new BatchQueue(pipeline);
  const settle = () => {
    if (pending === '') return;
    if (used + pending.length * 3 > body.length) {
      // Only a row far bigger than the slack gets here: the batch grows to hold it.
      const bigger = Buffer.allocUnsafe(used + pending.length * 3);
      body.copy(bigger, 0, 0, used);
      body = bigger;
    }
    used += body.write(pending, used);
    pending = '';
  };
  const cut = () => {
    settle();
    if (rows === 0) return;
    queue.add({ body: body.subarray(0, used), rows });
    body = Buffer.allocUnsafe(maxBytes + ROW_SLACK);
    used = 0;
    rows = 0;
  };
  return {
    add(event) {
      pending += writer.row(event);
      rows++;
      if (pending.length >= PENDING_CHARS) settle();
      if (rows >= options.batchSize || used + pending.length >= maxBytes) cut();
    },
    ...queue.sinkEnds(cut),
  };
}
