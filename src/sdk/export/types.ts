// Owns the export pipeline's vocabulary: a batch, a serialized request, and the result every stage returns.

import type { TelemetryError } from '../../errors.js';
import type { QueuedEvent, ResourceInfo } from '../event.js';
import type { QueuedLog, QueuedMetric } from '../signal-items.js';

/** The kinds of item the batch processor carries; one batch holds one kind. */
export type Signal = 'span' | 'log' | 'metric';

/** One queued item of any kind, tagged by its signal. */
export type QueuedItem = QueuedEvent | QueuedLog | QueuedMetric;

export interface Batch {
  /** Stable across retries, spooling and the next run: the dedup token (ClickHouse) and part of the identical body (OTLP). */
  id: string;
  signal: Signal;
  /** The items, all of the batch's signal (named events for history: spans came first). */
  events: QueuedItem[];
  /** Fixed when the batch is formed, so a batch sent by the next run carries the same resource. */
  resource: ResourceInfo;
  sdkVersion: string;
}

export interface SerializedBatch {
  url: string;
  body: Uint8Array;
  headers: Record<string, string>;
}

/** What one export (one attempt, or all of them) came to; retries travel as values, never as exceptions. */
export type ExportResult =
  | { code: 'success'; accepted: number; rejected: number; message: string }
  | { code: 'retryable'; error: TelemetryError; retryAfterMs?: number }
  | { code: 'failed'; error: TelemetryError };

export interface HttpAnswer {
  status: number;
  body: Uint8Array;
  retryAfterMs: number | undefined;
}

/** A backend: the serializer for one batch and the reader of the server's answer. The transport sits between. */
export interface Backend {
  readonly name: 'otlp' | 'clickhouse';
  /** Where batches go, for messages. */
  readonly target: string;
  serialize(batch: Batch): SerializedBatch;
  interpret(answer: HttpAnswer, batch: Batch): ExportResult;
}

export type Export = (batch: Batch) => Promise<ExportResult>;
