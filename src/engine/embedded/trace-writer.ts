// Owns writing received spans to `traces`: requests arriving close together share one insert; each waits for its rows.

import { TRACE_COLUMNS, toJsonEachRow, type TraceRow } from '../../transform/row.js';
import type { EmbeddedDatabase } from './database.js';

interface Waiting {
  rows: TraceRow[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface TraceWriterOptions {
  db: EmbeddedDatabase;
  database: string;
  /** How long the first rows wait for company before the insert runs. */
  delayMs: number;
  /** An insert runs as soon as this many rows wait. */
  maxRows: number;
}

export class TraceWriter {
  private waiting: Waiting[] = [];
  private waitingRows = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<void>>();

  constructor(private readonly options: TraceWriterOptions) {}

  /** Resolves once the rows are stored; rejects with the engine's error when the insert fails. */
  write(rows: TraceRow[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ rows, resolve, reject });
      this.waitingRows += rows.length;
      if (this.waitingRows >= this.options.maxRows) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.delayMs);
    });
  }

  /** Inserts everything waiting now, and waits for every insert under way. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.allSettled([...this.inFlight]);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiting.length === 0) return;
    const batch = this.waiting;
    this.waiting = [];
    this.waitingRows = 0;
    const rows = batch.flatMap((w) => w.rows);
    const insert = this.options.db
      .insert({ table: `${this.options.database}.traces`, columns: [...TRACE_COLUMNS], format: 'JSONEachRow', data: toJsonEachRow(rows) })
      .then(
        () => batch.forEach((w) => w.resolve()),
        (error: unknown) => batch.forEach((w) => w.reject(error)),
      );
    this.inFlight.add(insert);
    void insert.finally(() => this.inFlight.delete(insert));
  }
}
