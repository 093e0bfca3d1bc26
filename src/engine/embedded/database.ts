// Owns the chDB session on <home>/data: one lane of statements, per-request database and settings, typed errors.

import { mkdir } from 'node:fs/promises';
import { toClickHouseError, type ClickHouseError } from '../../clickhouse/errors.js';
import type { SqlRunner } from '../../schema/index.js';
import { loadChdb } from './chdb.js';
import { InsertCoalescer, type CoalescerLimits } from './ingest/coalescer.js';
import { IngestJournal } from './ingest/journal.js';
import { ResultStreamer, type ResultStream, type StreamRequest } from './result-stream.js';
import { CHDB_CONNECTION_ARGS, SessionState, type ChdbSession } from './session-state.js';

export { quoteIdentifier, quoteString } from './session-state.js';

export interface QueryOptions {
  /** Output format when the SQL has no FORMAT clause (ClickHouse's default is TabSeparated). */
  format?: string;
  /** Values for {name:Type} placeholders, as strings (ClickHouse's param_* URL parameters). */
  params?: Record<string, string>;
  /** Settings for this statement only. */
  settings?: Record<string, string>;
  /** Current database for this statement. */
  database?: string;
}

export interface QueryOutcome {
  body: Uint8Array;
  elapsedSeconds: number;
  rowsRead: number;
  bytesRead: number;
}

export interface InsertRequest {
  table: string;
  columns?: string[];
  format: 'JSONEachRow' | 'JSONCompactEachRow' | 'CSV' | 'CSVWithNames' | 'TSV' | 'TabSeparated' | 'TSVWithNames' | 'TabSeparatedWithNames';
  data: Buffer;
  settings?: Record<string, string>;
  database?: string;
}

export interface InsertOutcome {
  rowsWritten: number;
  bytesWritten: number;
  elapsedSeconds: number;
}

/** Formats chDB's raw insert path takes directly (zero-copy, parsed by the engine). */
export const RAW_INSERT_FORMATS: ReadonlySet<string> = new Set([
  'JSONEachRow', 'JSONCompactEachRow', 'CSV', 'CSVWithNames', 'TSV', 'TabSeparated', 'TSVWithNames', 'TabSeparatedWithNames',
]);

/**
 * chDB runs one statement at a time per session, and `SET`/`USE` change the session for everything after them.
 * So every statement goes through one lane here, and the lane puts the session's settings and current database
 * in the state each statement asked for just before running it.
 */
export class EmbeddedDatabase implements SqlRunner {
  private lane: Promise<unknown> = Promise.resolve();
  private readonly state: SessionState;
  private readonly streamer: ResultStreamer;
  private closed = false;
  private coalescer: InsertCoalescer | undefined;
  /** Told of each insert's outcome, and of any statement refused for lack of space (the disk watch). */
  private writeObserver: ((failure: ClickHouseError | undefined) => void) | undefined;

  private constructor(
    private readonly session: ChdbSession,
    dataDir: string,
  ) {
    this.state = new SessionState(session);
    this.streamer = new ResultStreamer(dataDir);
  }

  static async open(dataDir: string): Promise<EmbeddedDatabase> {
    const chdb = await loadChdb();
    await mkdir(dataDir, { recursive: true });
    return new EmbeddedDatabase(new chdb.Session(dataDir, { connectionArgs: [...CHDB_CONNECTION_ARGS] }), dataDir);
  }

  /** Runs a statement and returns its text output (SqlRunner, for the schema). */
  async run(sql: string): Promise<string> {
    const outcome = await this.query(sql, { format: 'TabSeparated' });
    return Buffer.from(outcome.body).toString('utf8');
  }

  query(sql: string, options: QueryOptions = {}): Promise<QueryOutcome> {
    return this.enqueue(async () => {
      await this.state.prepare(options.database, options.settings);
      try {
        const format = options.format ?? 'TabSeparated';
        const result =
          options.params && Object.keys(options.params).length > 0
            ? await this.session.queryBindAsync(sql, options.params, { format })
            : await this.session.queryAsync(sql, { format });
        return { body: result.bytes(), elapsedSeconds: result.elapsed, rowsRead: result.rowsRead, bytesRead: result.bytesRead };
      } catch (error) {
        const failure = toClickHouseError(error, sql);
        if (failure.serverName === 'NOT_ENOUGH_SPACE') this.writeObserver?.(failure);
        throw failure;
      }
    });
  }

  /**
   * Starts a read whose result goes out chunk by chunk (result-stream.ts); undefined when streams are busy or chDB
   * cannot stream the statement (then use query()). Throws the ClickHouseError of a query failing before its first chunk.
   */
  stream(sql: string, request: StreamRequest): Promise<ResultStream | undefined> {
    if (this.closed) return Promise.reject(new Error('the embedded database is closed'));
    return this.streamer.open(sql, request);
  }

  /** Ends a streamed result under way (it ends with QUERY_WAS_CANCELLED) and streams no more: the engine is stopping. */
  stopStreams(): void {
    this.streamer.stop();
  }

  /**
   * From now on, concurrent inserts into one table are written as one (ingest/coalescer.ts), journalled in
   * `journalDir` for exactly-once across a crash. Inserts the batches a crash left there first; returns how many.
   */
  async batchInserts(journalDir: string, limits: CoalescerLimits, dedupWindow: number): Promise<number> {
    const coalescer = new InsertCoalescer((request) => this.insertNow(request), IngestJournal.open(journalDir, dedupWindow), limits);
    const recovered = await coalescer.recover();
    this.coalescer = coalescer;
    return recovered;
  }

  /** How the batching went so far (requests, batches, deduplicated requests); undefined without batching. */
  batchCounters(): ReturnType<InsertCoalescer['counters']> | undefined {
    return this.coalescer?.counters();
  }

  /** `listener` hears of every insert: undefined when it stored, the error when it failed (src/engine/embedded/disk-watch.ts). */
  observeWrites(listener: (failure: ClickHouseError | undefined) => void): void {
    this.writeObserver = listener;
  }

  /** Inserts rows; with batching on, resolves once the batch holding them is stored. */
  insert(request: InsertRequest): Promise<InsertOutcome> {
    const inserted = this.coalescer ? this.coalescer.insert(request) : this.insertNow(request);
    const observer = this.writeObserver;
    if (!observer) return inserted;
    return inserted.then(
      (outcome) => (observer(undefined), outcome),
      (error: unknown) => {
        const failure = toClickHouseError(error);
        observer(failure);
        throw failure;
      },
    );
  }

  /** One insert statement now, on the lane. */
  insertNow(request: InsertRequest): Promise<InsertOutcome> {
    return this.enqueue(async () => {
      await this.state.prepare(request.database, undefined);
      try {
        const summary = await this.session.insert({
          table: request.table,
          values: request.data,
          format: request.format,
          ...(request.columns ? { columns: request.columns } : {}),
          ...(request.settings && Object.keys(request.settings).length > 0 ? { settings: request.settings } : {}),
        });
        return { rowsWritten: summary.rowsWritten, bytesWritten: summary.bytesWritten, elapsedSeconds: summary.elapsed };
      } catch (error) {
        throw toClickHouseError(error, `INSERT INTO ${request.table} FORMAT ${request.format}`);
      }
    });
  }

  /** Waits for statements already queued, then closes the session. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.coalescer?.drain();
    this.closed = true;
    await this.lane.catch(() => undefined);
    this.streamer.close();
    this.session.close();
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the embedded database is closed'));
    const next = this.lane.then(work, work);
    this.lane = next.catch(() => undefined);
    return next;
  }
}
