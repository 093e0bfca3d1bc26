// Owns what a backend is: serializer + transport for one batch, reporting what the server accepted.

import type { QueuedEvent, ResourceInfo } from '../event.js';

export interface Batch {
  events: QueuedEvent[];
  /** Stable across retries of this batch: the ClickHouse backend sends it as insert_deduplication_token. */
  id: string;
}

export interface BatchOutcome {
  /** Events the server stored. */
  accepted: number;
  /** Events the server refused for good (OTLP partial success). */
  rejected: number;
  /** The server's words about rejected events. */
  message: string;
}

export interface Backend {
  readonly name: 'otlp' | 'clickhouse';
  /** Where batches go, for messages. */
  readonly target: string;
  /** One attempt; throws SendError (retryable or not) on failure. */
  send(batch: Batch, resource: ResourceInfo): Promise<BatchOutcome>;
}
