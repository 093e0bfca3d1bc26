// Owns the named query behind `query-traces`: recent events with filters bound as parameters, and tailing new ones.

import { queryRows, type ClickHouseConnection } from '../clickhouse/http-client.js';
import type { TraceRow } from '../transform/row.js';
import { toClickHouseTime } from './time.js';
import { tailRows } from './tail.js';

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
  const { clauses, params } = where(filters);
  await tailRows<StoredTrace>(connection, {
    table,
    clauses,
    params,
    rowKey: 'span_id',
    ...(options.intervalMs !== undefined ? { intervalMs: options.intervalMs } : {}),
    ...(options.settleMs !== undefined ? { settleMs: options.settleMs } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    onRows: options.onRows,
  });
}
