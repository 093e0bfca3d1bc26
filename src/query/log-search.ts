// Owns the log explorer's queries: a page of the records matching a LogSearch (newest first) with the cursor a live
// tail continues from, and one poll of that tail; every value bound as a parameter.
import { queryRows, type ClickHouseConnection } from '../clickhouse/http-client.js';
import { encodeCursor, type LogSearch } from './log-search-params.js';
import { LOG_ROW_KEY, logWhere, type LogFilters, type StoredLog } from './logs.js';
import { cursorAt, settledNow, tailPage, type TailCursor } from './tail.js';

export interface LogEntry {
  /** Epoch milliseconds (the record's time, to the millisecond). */
  time_ms: number;
  /** The record's time as stored: UTC, nanoseconds. */
  timestamp: string;
  severity_text: string;
  severity_number: number;
  body: string;
  service: string;
  project: string;
  environment: string;
  trace_id: string;
  span_id: string;
  attributes: Record<string, string>;
  scope_name: string;
}

export interface LogSearchResult {
  from: number;
  to: number;
  total: number;
  offset: number;
  limit: number;
  /** Newest first. */
  logs: LogEntry[];
  /** Pass as `tail=` to get the records that arrive after this answer (none of them are in `logs`). */
  cursor: string;
}

export interface LogTailResult {
  /** In the order they reached the store. */
  logs: LogEntry[];
  cursor: string;
}

/** The most records one tail poll returns; the next poll continues after them. */
export const TAIL_PAGE = 1_000;
/** Records are shown once they are this old (by arrival), so one still committing is never skipped. */
const SETTLE_MS = 1_000;

function filters(search: LogSearch, window: boolean): Omit<LogFilters, 'limit'> {
  const f: Omit<LogFilters, 'limit'> = { searchAttributes: true };
  if (window) Object.assign(f, { since: new Date(search.from), until: new Date(search.to) });
  for (const [key, value] of Object.entries({ project: search.project, service: search.service, environment: search.environment, minSeverity: search.minSeverity, traceId: search.traceId, search: search.text })) {
    if (value !== undefined) Object.assign(f, { [key]: value });
  }
  return f;
}

/** A stored record as the API shows it. */
function entry(row: StoredLog): LogEntry {
  // DateTime64(9) text in UTC: "2026-11-26 10:04:05.123456789".
  const time_ms = Date.parse(`${row.timestamp.slice(0, 23).replace(' ', 'T')}Z`);
  return {
    time_ms,
    timestamp: row.timestamp,
    severity_text: row.severity_text,
    severity_number: Number(row.severity_number),
    body: row.body,
    service: row.service_name,
    project: row.project_name,
    environment: row.environment,
    trace_id: row.trace_id,
    span_id: row.span_id,
    attributes: row.attributes,
    scope_name: row.scope_name,
  };
}

/**
 * A page of the window's records, newest first, and a cursor for the tail. The page holds records that arrived before
 * the cursor's moment and the tail those at or after it, so together they show every record once.
 */
export async function searchLogs(connection: ClickHouseConnection, database: string, search: LogSearch): Promise<LogSearchResult> {
  const cut = await settledNow(connection, SETTLE_MS);
  const { clauses, params } = logWhere(filters(search, true));
  const where = [...clauses, "inserted_at < {cut:DateTime64(3, 'UTC')}"].join(' AND ');
  const all = { ...params, cut };
  const [logs, [count]] = await Promise.all([
    queryRows<StoredLog>(
      connection,
      `SELECT * FROM ${database}.logs WHERE ${where} ORDER BY timestamp DESC, ${LOG_ROW_KEY} DESC LIMIT {limit:UInt32} OFFSET {offset:UInt32}`,
      { ...all, limit: search.limit, offset: search.offset },
    ),
    queryRows<{ total: number }>(connection, `SELECT count() AS total FROM ${database}.logs WHERE ${where}`, all),
  ]);
  return { from: search.from, to: search.to, total: Number(count?.total ?? 0), offset: search.offset, limit: search.limit, logs: logs.map(entry), cursor: encodeCursor(cursorAt(cut)) };
}

/** The records matching the search's filters (not its window) that arrived after `cursor`, oldest first. */
export async function tailLogs(connection: ClickHouseConnection, database: string, search: LogSearch, cursor: TailCursor): Promise<LogTailResult> {
  const { clauses, params } = logWhere(filters(search, false));
  const next = await tailPage<StoredLog>(connection, { table: `${database}.logs`, clauses, params, rowKey: LOG_ROW_KEY, settleMs: SETTLE_MS }, cursor, TAIL_PAGE);
  return { logs: next.rows.map(entry), cursor: encodeCursor(next.cursor) };
}
