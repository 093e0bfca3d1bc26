// Owns what the SDK tells its host about sending: the counters of stats() and the result of a flush.

export interface TelemetryStats {
  /**
   * Items (events, log lines and metric points: every count here counts them alike) not yet accepted by the store:
   * queued, in flight, waiting for a retry, or in the spool.
   */
  queued: number;
  /** Events the store accepted. */
  sent: number;
  /** Retry attempts made. */
  retried: number;
  /** Events dropped: the queue or the spool was full, or left unsent at shutdown with no spool. */
  dropped: number;
  /** Events refused for good (invalid for the server, or a non-retryable error). */
  failed: number;
  /** Batches that failed (each may be retried later if the failure was retryable). */
  failedBatches: number;
  /** Events written to the spool for a later attempt or the next run. */
  spooled: number;
}

export interface FlushResult {
  /** Events accepted during this flush. */
  sent: number;
  /** Events refused for good during this flush. */
  failed: number;
  /** Events still held after it (the store was unreachable). */
  pending: number;
  durationMs: number;
  /** Messages of the failures met during this flush. */
  errors: string[];
}

export const NOOP_RESULT: FlushResult = { sent: 0, failed: 0, pending: 0, durationMs: 0, errors: [] };
