// Owns the named queries behind `query-logs`: recent log records with filters bound as parameters, and tailing new ones.

import { queryRows, type ClickHouseConnection } from '../clickhouse/http-client.js';
import type { LogRow } from '../transform/logs.js';
import { tailRows } from './tail.js';
import { toClickHouseTime } from './time.js';

export interface LogFilters {
  project?: string;
  service?: string;
  environment?: string;
  /** The lowest severity number shown (INFO = 9 shows INFO, WARN, ERROR and FATAL). */
  minSeverity?: number;
  traceId?: string;
  /** Text the body contains, case-insensitive. */
  search?: string;
  /** With `search`: also match attribute keys and values. */
  searchAttributes?: boolean;
  since?: Date;
  until?: Date;
  limit: number;
}

export type StoredLog = LogRow & { inserted_at: string };

/** Tells records with the same arrival and timestamp apart, for tail cursors. */
export const LOG_ROW_KEY = 'toString(sipHash64(body, trace_id, span_id, toString(attributes)))';

/** The WHERE clauses for `filters`, every value a bound parameter. */
export function logWhere(filters: Omit<LogFilters, 'limit'>): { clauses: string[]; params: Record<string, string | number> } {
  const clauses: string[] = [];
  const params: Record<string, string | number> = {};
  if (filters.project !== undefined) {
    clauses.push('project_name = {project:String}');
    params.project = filters.project;
  }
  if (filters.service !== undefined) {
    clauses.push('service_name = {service:String}');
    params.service = filters.service;
  }
  if (filters.environment !== undefined) {
    clauses.push('environment = {environment:String}');
    params.environment = filters.environment;
  }
  if (filters.minSeverity !== undefined) {
    clauses.push('severity_number >= {severity:UInt8}');
    params.severity = filters.minSeverity;
  }
  if (filters.traceId !== undefined) {
    clauses.push('trace_id = {trace:String}');
    params.trace = filters.traceId.toLowerCase();
  }
  if (filters.search !== undefined) {
    clauses.push(
      filters.searchAttributes
        ? '(positionCaseInsensitiveUTF8(body, {search:String}) > 0 OR arrayExists(v -> positionCaseInsensitiveUTF8(v, {search:String}) > 0, arrayConcat(mapKeys(attributes), mapValues(attributes))))'
        : 'positionCaseInsensitiveUTF8(body, {search:String}) > 0',
    );
    params.search = filters.search;
  }
  if (filters.since !== undefined) {
    clauses.push("timestamp >= {since:DateTime64(3, 'UTC')}");
    params.since = toClickHouseTime(filters.since);
  }
  if (filters.until !== undefined) {
    clauses.push("timestamp <= {until:DateTime64(3, 'UTC')}");
    params.until = toClickHouseTime(filters.until);
  }
  return { clauses, params };
}

/** The newest records matching the filters, newest first. */
export function recentLogs(connection: ClickHouseConnection, database: string, filters: LogFilters): Promise<StoredLog[]> {
  const { clauses, params } = logWhere(filters);
  return queryRows<StoredLog>(
    connection,
    `SELECT * FROM ${database}.logs ${clauses.length ? `WHERE ${clauses.join(' AND ')}` : ''} ORDER BY timestamp DESC LIMIT {limit:UInt32}`,
    { ...params, limit: filters.limit },
  );
}

/** Tails records as they arrive (see tailRows), in the order they reached the store. */
export function followLogs(connection: ClickHouseConnection, database: string, filters: Omit<LogFilters, 'limit'>, options: { signal?: AbortSignal; intervalMs?: number; onRows: (rows: StoredLog[]) => void }): Promise<void> {
  const { clauses, params } = logWhere(filters);
  return tailRows<StoredLog>(connection, { table: `${database}.logs`, clauses, params, rowKey: LOG_ROW_KEY, ...options });
}
