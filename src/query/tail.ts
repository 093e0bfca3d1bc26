// Owns tailing a table by arrival: poll rows strictly after a cursor on (inserted_at, timestamp, a row key), once settled.

import { queryRows, type ClickHouseConnection } from '../clickhouse/http-client.js';
import { toClickHouseTime } from './time.js';

export interface TailOptions<Row> {
  table: string;
  /** Filter clauses with {name:Type} placeholders, and their values. */
  clauses: string[];
  params: Record<string, string | number>;
  /** A String expression telling rows with the same arrival and timestamp apart. */
  rowKey: string;
  intervalMs?: number;
  /** Rows are read only once they are this old (by inserted_at), so an insert still committing is never skipped. */
  settleMs?: number;
  signal?: AbortSignal;
  /** Receives new rows in the order they reached the store. */
  onRows: (rows: Row[]) => void;
}

interface CursorColumns {
  _ci: string;
  _ct: string;
  _ck: string;
}

/** Where a tail stands: after this arrival time, timestamp and row key (all as ClickHouse prints them). */
export interface TailCursor {
  ci: string;
  ct: string;
  ck: string;
}

/** A cursor standing at `insertedAt` (DateTime64(3) text): rows that arrived at or after it come next. */
export function cursorAt(insertedAt: string): TailCursor {
  return { ci: insertedAt, ct: '1970-01-01 00:00:00.000000000', ck: '' };
}

/** The store's clock less the settle time: where a tail starts, and the newest arrival a listing shows beside it. */
export async function settledNow(connection: ClickHouseConnection, settleMs = 1_000): Promise<string> {
  const [start] = await queryRows<{ now: string }>(connection, `SELECT toString(now64(3) - INTERVAL ${Math.trunc(settleMs)} MILLISECOND) AS now`);
  return start?.now ?? toClickHouseTime(new Date(Date.now() - settleMs));
}

/** One poll: up to `page` settled rows after `cursor`, in arrival order, and the cursor after them. */
export async function tailPage<Row>(
  connection: ClickHouseConnection,
  options: Pick<TailOptions<Row>, 'table' | 'clauses' | 'params' | 'rowKey' | 'settleMs'>,
  cursor: TailCursor,
  page: number,
): Promise<{ rows: Row[]; cursor: TailCursor }> {
  const settle = Math.trunc(options.settleMs ?? 1_000);
  const rows = await queryRows<Row & CursorColumns>(
    connection,
    `SELECT *, toString(inserted_at) AS _ci, toString(timestamp) AS _ct, ${options.rowKey} AS _ck FROM ${options.table}
     WHERE ${[
       ...options.clauses,
       "(inserted_at, timestamp, _ck) > ({ci:DateTime64(3, 'UTC')}, {ct:DateTime64(9, 'UTC')}, {ck:String})",
       `inserted_at <= now64(3) - INTERVAL ${settle} MILLISECOND`,
     ].join(' AND ')}
     ORDER BY inserted_at, timestamp, _ck LIMIT ${Math.trunc(page)}`,
    { ...options.params, ci: cursor.ci, ct: cursor.ct, ck: cursor.ck },
  );
  const last = rows[rows.length - 1];
  return {
    rows: rows.map(({ _ci, _ct, _ck, ...row }) => row as unknown as Row),
    cursor: last ? { ci: last._ci, ct: last._ct, ck: last._ck } : cursor,
  };
}

/** Polls until `signal` aborts; a large insert is read page by page without sleeping. */
export async function tailRows<Row>(connection: ClickHouseConnection, options: TailOptions<Row>): Promise<void> {
  const interval = options.intervalMs ?? 500;
  const page = 10_000;
  let cursor = cursorAt(await settledNow(connection, options.settleMs));
  while (!options.signal?.aborted) {
    const next = await tailPage<Row>(connection, options, cursor, page);
    cursor = next.cursor;
    if (next.rows.length > 0) {
      options.onRows(next.rows);
      if (next.rows.length === page) continue;
    }
    await pause(interval, options.signal);
  }
}

/** Waits `ms`, or less when `signal` aborts; the abort listener leaves with the wait (a long tail adds none). */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
