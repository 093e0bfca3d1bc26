// Owns reading one trace whole: its spans (with events and links where the store has them) and the logs that carry its id.
import { queryRows, runStatement, type ClickHouseConnection } from '../clickhouse/http-client.js';
import { describeError } from '../errors.js';
import type { StoreFeatures } from './store-features.js';

export interface SpanEvent {
  timestamp: string;
  name: string;
  attributes: Record<string, string>;
}

export interface SpanLink {
  trace_id: string;
  span_id: string;
  attributes: Record<string, string>;
}

export interface TraceSpan {
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  timestamp: string;
  start_ms: number;
  duration_ms: number;
  service_name: string;
  span_name: string;
  span_kind: string;
  status_code: string;
  status_message: string;
  project_name: string;
  project_version: string;
  environment: string;
  attributes: Record<string, string>;
  events: SpanEvent[];
  links: SpanLink[];
}

export interface TraceLog {
  timestamp: string;
  time_ms: number;
  trace_id: string;
  span_id: string;
  severity_text: string;
  severity_number: number;
  body: string;
  service_name: string;
  attributes: Record<string, string>;
  scope_name: string;
}

/** The shape of traceDetailJson's answer. */
export interface TraceDetail {
  trace_id: string;
  spans: TraceSpan[];
  logs: TraceLog[];
  /** True when the trace has more spans than MAX_SPANS (or logs than MAX_LOGS) and only the first are here. */
  truncated: boolean;
  features: StoreFeatures;
  /** Set when the store has a logs table but reading it failed; the spans are still here. */
  logs_error?: string;
}

export const MAX_SPANS = 50_000;
export const MAX_LOGS = 1_000;
export const TRACE_ID = /^[0-9a-f]{32}$/;

/** What the waterfall needs to draw a span, in this order: a trace's outline loads several times faster than its detail. */
export const OUTLINE_COLUMNS = ['span_id', 'parent_span_id', 'start_ms', 'duration_ms', 'service_name', 'span_name', 'status_code'] as const;

/**
 * The trace's outline as JSON text, `{"trace_id", "columns", "spans": [[...], ...], "truncated"}`, or undefined when
 * it has no spans. ClickHouse's compact rows are passed through as they are: a 10,000-span trace is never parsed here.
 */
export async function traceOutlineJson(connection: ClickHouseConnection, database: string, traceId: string): Promise<string | undefined> {
  const text = await runStatement(
    connection,
    `SELECT span_id, parent_span_id, toInt64(toUnixTimestamp64Milli(timestamp)) AS start_ms, duration_ms, service_name, span_name, status_code
     FROM ${database}.traces WHERE trace_id = {id:String} ORDER BY timestamp, span_id LIMIT {limit:UInt32} FORMAT JSONCompactEachRow`,
    { params: { id: traceId, limit: MAX_SPANS + 1 }, settings: { output_format_json_quote_64bit_integers: 0 } },
  );
  const lines = text.split('\n').filter((line) => line !== '');
  if (lines.length === 0) return undefined;
  const truncated = lines.length > MAX_SPANS;
  return `{"trace_id":${JSON.stringify(traceId)},"columns":${JSON.stringify(OUTLINE_COLUMNS)},"spans":[${lines.slice(0, MAX_SPANS).join(',')}],"truncated":${truncated}}`;
}

const EVENT_TYPE = 'Tuple(timestamp String, name String, attributes Map(String, String))';
const LINK_TYPE = 'Tuple(trace_id String, span_id String, attributes Map(String, String))';

/**
 * One trace whole as JSON text in the TraceDetail shape, or undefined when it has no spans and no logs. The spans
 * come out of ClickHouse already shaped (events and links as objects) and are passed through unparsed.
 */
export async function traceDetailJson(connection: ClickHouseConnection, database: string, traceId: string, features: StoreFeatures): Promise<string | undefined> {
  const events = features.events
    ? `arrayMap((t, n, a) -> CAST((toString(t), n, a), '${EVENT_TYPE}'), \`events.timestamp\`, \`events.name\`, \`events.attributes\`)`
    : `CAST([], 'Array(${EVENT_TYPE})')`;
  const links = features.links
    ? `arrayMap((t, s, a) -> CAST((t, s, a), '${LINK_TYPE}'), \`links.trace_id\`, \`links.span_id\`, \`links.attributes\`)`
    : `CAST([], 'Array(${LINK_TYPE})')`;
  // Inner names differ from the outer ones, so that `timestamp`, `events` and `links` always mean the columns inside.
  const spansQuery = runStatement(
    connection,
    `SELECT trace_id, span_id, parent_span_id, ts AS timestamp, start_ms, duration_ms, service_name, span_name, span_kind, status_code, status_message,
       project_name, project_version, environment, attributes, ev AS events, ln AS links
     FROM (
       SELECT trace_id, span_id, parent_span_id, toString(timestamp) AS ts, toInt64(toUnixTimestamp64Milli(timestamp)) AS start_ms, duration_ms,
         service_name, span_name, span_kind, status_code, status_message, project_name, project_version, environment, attributes, ${events} AS ev, ${links} AS ln
       FROM ${database}.traces WHERE trace_id = {id:String} ORDER BY timestamp, span_id LIMIT {limit:UInt32}
     )
     ORDER BY start_ms, span_id
     FORMAT JSONEachRow`,
    { params: { id: traceId, limit: MAX_SPANS + 1 }, settings: { output_format_json_quote_64bit_integers: 0, output_format_json_named_tuples_as_objects: 1 } },
  );
  let logsError: string | undefined;
  const logsQuery = features.logs
    ? queryRows<Omit<TraceLog, 'timestamp'> & { at: string }>(
        connection,
        `SELECT toString(timestamp) AS at, toInt64(toUnixTimestamp64Milli(toDateTime64(timestamp, 3))) AS time_ms, trace_id, span_id, severity_text,
           toInt32(severity_number) AS severity_number, body, toString(service_name) AS service_name, attributes, toString(scope_name) AS scope_name
         FROM ${database}.logs WHERE trace_id = {id:String} ORDER BY timestamp LIMIT {limit:UInt32}`,
        { id: traceId, limit: MAX_LOGS + 1 },
      ).catch((error: unknown) => {
        // A logs table this version does not understand must not hide the spans: say so beside them instead.
        logsError = describeError(error).split('\n')[0] ?? 'unknown error';
        return [];
      })
    : Promise.resolve([]);
  const [text, logRows] = await Promise.all([spansQuery, logsQuery]);
  const lines = text.split('\n').filter((line) => line !== '');
  if (lines.length === 0 && logRows.length === 0) return undefined;
  const logs: TraceLog[] = logRows.slice(0, MAX_LOGS).map(({ at, ...l }) => ({ ...l, timestamp: at, time_ms: Number(l.time_ms) }));
  const truncated = lines.length > MAX_SPANS || logRows.length > MAX_LOGS;
  const logsNote = logsError === undefined ? '' : `,"logs_error":${JSON.stringify(logsError)}`;
  return `{"trace_id":${JSON.stringify(traceId)},"spans":[${lines.slice(0, MAX_SPANS).join(',')}],"logs":${JSON.stringify(logs)}${logsNote},"truncated":${truncated},"features":${JSON.stringify(features)}}`;
}
