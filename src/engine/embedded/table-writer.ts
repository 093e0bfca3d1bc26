// Owns writing received rows to a table: one insert per request, deduplicated by a token derived from the request,
// so an exporter that retries a request whose answer it lost (say, the engine was killed) stores it once.

import type { EmbeddedDatabase } from './database.js';

export interface TableWriterOptions {
  db: EmbeddedDatabase;
  database: string;
}

export interface TableInsert {
  /** Table name inside the configured database, e.g. `traces`. */
  table: string;
  columns: readonly string[];
  /** The rows as JSONEachRow text. */
  data: Buffer;
  rows: number;
  /** Identifies the request's content (a hash of its body): the same request sent again is stored once. */
  token: string;
}

export class TableWriter {
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly options: TableWriterOptions) {}

  /** Resolves once the rows are stored; rejects with the engine's error when the insert fails. */
  write({ table, columns, data, rows, token }: TableInsert): Promise<void> {
    if (rows === 0) return Promise.resolve();
    const insert = this.options.db.insert({
      table: `${this.options.database}.${table}`,
      columns: [...columns],
      format: 'JSONEachRow',
      data,
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
