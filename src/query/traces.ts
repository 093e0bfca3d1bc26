// Owns the named query behind `query-traces`: recent events with filters bound as parameters, and tailing new ones.

import { queryRows, type ClickHouseConnection } from '../clickhouse/http-client.js';
import type { TraceRow } from '../transform/row.js';
import { toClickHouseTime } from './time.js';

export interface TraceFilters {
  project?: string;
  event?: string;
  status?: 'OK' | 'ERROR';
  since?: Date;
  until?: Date;
  limit: number;
}

export type StoredTrace = TraceRow & { inserted_at: string };

function where(filters: Omit<TraceFilters, 'limit'>): { clauses: string[]; params: Record<string, string | number> } {
  const clauses: string[] = [];
  const params: Record<string, string | number> = {};
  if (filters.project !== undefined) {
    clauses.push('project_name = {project:String}');
    params.project = filters.project;
  }
  if (filters.event !== undefined) {
    clauses.push('span_name = {event:String}');
    params.event = filters.event;
  }
  if (filters.status !== undefined) {
    clauses.push('status_code = {status:String}');
    params.status = filters.status;
  }
  if (filters.since !== undefined) {
    clauses.push("timestamp >= {since:DateTime64(3, 'UTC')}");
    params.since = toClickHouseTime(filters.since);
  }
  if (filters.until !== undefined) {
    clauses.push("timestamp < {until:DateTime64(3, 'UTC')}");
    params.until = toClickHouseTime(filters.until);
  }
  return { clauses, params };
}

/** The newest events matching the filters, newest first. */
export function recentTraces(connection: ClickHouseConnection, table: string, filters: TraceFilters): Promise<StoredTrace[]> {
  const { clauses, params } = where(filters);
  return queryRows<StoredTrace>(
    connection,
    `SELECT * FROM ${table} ${clauses.length ? `WHERE ${clauses.join(' AND ')}` : ''} ORDER BY timestamp DESC, span_id DESC LIMIT {limit:UInt32}`,
    { ...params, limit: filters.limit },
  );
}

export interface FollowOptions {
  /** Poll interval. */
  intervalMs?: number;
  /** Rows are read only once they are this old (by inserted_at), so an insert still committing is never skipped. */
  settleMs?: number;
  signal?: AbortSignal;
  /** Receives new rows in the order they reached the store. */
  onRows: (rows: StoredTrace[]) => void;
}

/**
 * Tails rows as they arrive. The cursor is the last printed row's (inserted_at, timestamp, span_id); each poll reads
 * rows strictly after it, in that order, so nothing is printed twice and a large insert is read page by page.
 * Rows are read only once `settleMs` old, so an insert still being written when a poll runs is read by a later one.
 */
export async function followTraces(connection: ClickHouseConnection, table: string, filters: Omit<TraceFilters, 'limit'>, options: FollowOptions): Promise<void> {
  const interval = options.intervalMs ?? 500;
  const settle = options.settleMs ?? 1_000;
  const page = 10_000;
  const { clauses, params } = where(filters);
  const [start] = await queryRows<{ now: string }>(connection, `SELECT toString(now64(3) - INTERVAL ${settle} MILLISECOND) AS now`);
  let cursor = { inserted: start?.now ?? toClickHouseTime(new Date(Date.now() - settle)), ts: '1970-01-01 00:00:00.000', span: '' };
  while (!options.signal?.aborted) {
    const rows = await queryRows<StoredTrace>(
      connection,
      `SELECT * FROM ${table}
       WHERE ${[
         ...clauses,
         "(inserted_at, timestamp, span_id) > ({ci:DateTime64(3, 'UTC')}, {ct:DateTime64(3, 'UTC')}, {cs:String})",
         `inserted_at <= now64(3) - INTERVAL ${settle} MILLISECOND`,
       ].join(' AND ')}
       ORDER BY inserted_at, timestamp, span_id LIMIT ${page}`,
      { ...params, ci: cursor.inserted, ct: cursor.ts, cs: cursor.span },
    );
    if (rows.length > 0) {
      options.onRows(rows);
      const last = rows[rows.length - 1] as StoredTrace;
      cursor = { inserted: last.inserted_at, ts: last.timestamp, span: last.span_id };
      if (rows.length === page) continue; // more waiting: read on without sleeping
    }
    await pause(interval, options.signal);
  }
}

/** Waits `ms`, or less when `signal` aborts; the abort listener leaves with the wait (a long follow adds none). */
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
