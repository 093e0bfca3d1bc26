// Owns writing received spans to `traces`: one insert per request, deduplicated by a token derived from the request,
// so an exporter that retries a request whose answer it lost (say, the engine was killed) stores it once.

import { TRACE_COLUMNS, toJsonEachRow, type TraceRow } from '../../transform/row.js';
import type { EmbeddedDatabase } from './database.js';

export interface TraceWriterOptions {
  db: EmbeddedDatabase;
  database: string;
}

export class TraceWriter {
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly options: TraceWriterOptions) {}

  /**
   * Resolves once the rows are stored; rejects with the engine's error when the insert fails.
   * `token` identifies the request's content (a hash of its body): the same request sent again is stored once.
   */
  write(rows: TraceRow[], token: string): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    const insert = this.options.db.insert({
      table: `${this.options.database}.traces`,
      columns: [...TRACE_COLUMNS],
      format: 'JSONEachRow',
      data: toJsonEachRow(rows),
      settings: { insert_deduplication_token: token },
    });
    this.inFlight.add(insert);
    void insert.catch(() => undefined).finally(() => this.inFlight.delete(insert));
    return insert.then(() => undefined);
  }

  /** Waits for every insert under way. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }
}
