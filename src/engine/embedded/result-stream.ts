// Owns streaming SELECT results chunk by chunk on a session of their own, so a large result is never held whole and a
// slow reader never stalls ingest or the other queries.

import { CH, chError, toClickHouseError } from '../../clickhouse/errors.js';
import { loadChdb } from './chdb.js';
import { CHDB_CONNECTION_ARGS, SessionState } from './session-state.js';

export interface StreamRequest {
  /** Output format when the SQL has no FORMAT clause. */
  format: string;
  params?: Record<string, string>;
  settings?: Record<string, string>;
  database?: string;
}

/** An open result: its first chunk is already read (so errors before any output are thrown by open()). */
export interface ResultStream {
  /** The first chunk; undefined for an empty result. */
  readonly first: Uint8Array | undefined;
  /** The chunks after the first; rejects with a ClickHouseError when the query fails part way. */
  rest(): AsyncGenerator<Uint8Array>;
  /** Stops the query and frees the session (a reader that went away). Idempotent. */
  cancel(): void;
  /** Resolves when the engine stops streams (it is shutting down); rest() then throws QUERY_WAS_CANCELLED. */
  readonly halted: Promise<void>;
}

/**
 * Formats whose output is the plain concatenation of their chunks' output: no header, prefix or suffix a chunk would
 * repeat or cut (those, like JSON or CSVWithNames, are answered whole instead).
 */
export const STREAMABLE_FORMATS: ReadonlySet<string> = new Set([
  'TabSeparated', 'TSV', 'TabSeparatedRaw', 'TSVRaw', 'CSV', 'JSONEachRow', 'JSONStringsEachRow', 'JSONCompactEachRow',
  'JSONCompactStringsEachRow', 'NDJSON', 'JSONLines', 'RowBinary', 'Native', 'LineAsString', 'RawBLOB',
]);

type ChdbStream = ReturnType<SessionState['session']['queryStream']>;

/**
 * chDB runs one streaming cursor per session, and any other statement on that session ends it, so streams get a
 * session of their own (same data directory, its own settings and database), opened on first use. While it serves a
 * stream, open() answers undefined and the caller runs the query the buffered way instead of waiting.
 */
export class ResultStreamer {
  private state: SessionState | undefined;
  private busy = false;
  private active: ChdbStream | undefined;
  private closed = false;
  private halt: (() => void) | undefined;
  private readonly halted = new Promise<void>((resolve) => (this.halt = resolve));

  constructor(private readonly dataDir: string) {}

  /** Ends the stream under way with QUERY_WAS_CANCELLED, and starts no more (the engine is stopping). */
  stop(): void {
    this.closed = true;
    this.halt?.();
    this.active?.cancel();
  }

  /**
   * Starts `sql` and reads its first chunk. Undefined when a stream is already under way or chDB cannot stream this
   * statement; throws the ClickHouseError of a query that fails before its first chunk.
   */
  async open(sql: string, request: StreamRequest): Promise<ResultStream | undefined> {
    if (this.busy || this.closed) return undefined;
    this.busy = true;
    let iterator: AsyncIterator<{ raw(): Uint8Array }> | undefined;
    try {
      const state = await this.session();
      await state.prepare(request.database, request.settings);
      let stream: ChdbStream;
      try {
        stream =
          request.params && Object.keys(request.params).length > 0
            ? state.session.queryStreamBind(sql, request.params, { format: request.format })
            : state.session.queryStream(sql, { format: request.format });
      } catch (error) {
        // Statements chDB cannot stream (SHOW, DESCRIBE, …) say so with BAD_ARGUMENTS before running.
        if (/Streaming query is not supported/i.test(String((error as Error)?.message))) {
          this.busy = false;
          return undefined;
        }
        throw error;
      }
      this.active = stream;
      iterator = stream[Symbol.asyncIterator]();
      const head = await iterator.next();
      const first = head.done ? undefined : head.value.raw();
      if (head.done) this.release();
      return this.resultOf(first, iterator, head.done === true, sql);
    } catch (error) {
      this.release();
      throw toClickHouseError(error, sql);
    }
  }

  /** Ends a stream under way and closes the session. */
  close(): void {
    this.closed = true;
    this.active?.cancel();
    this.active = undefined;
    this.state?.session.close();
    this.state = undefined;
  }

  private resultOf(first: Uint8Array | undefined, iterator: AsyncIterator<{ raw(): Uint8Array }>, done: boolean, sql: string): ResultStream {
    let finished = done;
    const finish = () => {
      if (finished) return;
      finished = true;
      this.active?.cancel();
      this.release();
    };
    const release = () => {
      if (finished) return;
      finished = true;
      this.release();
    };
    let halted = false;
    void this.halted.then(() => (halted = true));
    return {
      first,
      rest: async function* () {
        if (finished) return;
        try {
          for (;;) {
            const next = await iterator.next();
            if (halted) throw chError(CH.QUERY_WAS_CANCELLED, 'the engine is stopping: the result ends here, incomplete');
            if (next.done) break;
            yield next.value.raw();
          }
        } catch (error) {
          throw toClickHouseError(error, sql);
        } finally {
          release();
        }
      },
      cancel: finish,
      halted: this.halted,
    };
  }

  private release(): void {
    this.active = undefined;
    this.busy = false;
  }

  private async session(): Promise<SessionState> {
    if (!this.state) {
      const chdb = await loadChdb();
      this.state = new SessionState(new chdb.Session(this.dataDir, { connectionArgs: [...CHDB_CONNECTION_ARGS] }));
    }
    return this.state;
  }
}
