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

interface Cursor {
  _ci: string;
  _ct: string;
  _ck: string;
}

/** Polls until `signal` aborts; a large insert is read page by page without sleeping. */
export async function tailRows<Row>(connection: ClickHouseConnection, options: TailOptions<Row>): Promise<void> {
  const interval = options.intervalMs ?? 500;
  const settle = options.settleMs ?? 1_000;
  const page = 10_000;
  const [start] = await queryRows<{ now: string }>(connection, `SELECT toString(now64(3) - INTERVAL ${settle} MILLISECOND) AS now`);
  let cursor = { ci: start?.now ?? toClickHouseTime(new Date(Date.now() - settle)), ct: '1970-01-01 00:00:00.000000000', ck: '' };
  while (!options.signal?.aborted) {
    const rows = await queryRows<Row & Cursor>(
      connection,
      `SELECT *, toString(inserted_at) AS _ci, toString(timestamp) AS _ct, ${options.rowKey} AS _ck FROM ${options.table}
       WHERE ${[
         ...options.clauses,
         "(inserted_at, timestamp, _ck) > ({ci:DateTime64(3, 'UTC')}, {ct:DateTime64(9, 'UTC')}, {ck:String})",
         `inserted_at <= now64(3) - INTERVAL ${settle} MILLISECOND`,
       ].join(' AND ')}
       ORDER BY inserted_at, timestamp, _ck LIMIT ${page}`,
      { ...options.params, ci: cursor.ci, ct: cursor.ct, ck: cursor.ck },
    );
    if (rows.length > 0) {
      const last = rows[rows.length - 1] as Cursor;
      cursor = { ci: last._ci, ct: last._ct, ck: last._ck };
      options.onRows(rows.map(({ _ci, _ct, _ck, ...row }) => row as unknown as Row));
      if (rows.length === page) continue;
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
