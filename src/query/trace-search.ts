// Owns the trace search: traces whose spans match a TraceSearch, one row each, a page of them, their duration
// histogram and their count over time; every value bound as a parameter.
import { queryRows, type ClickHouseConnection } from '../clickhouse/http-client.js';
import type { SortKey, TraceSearch } from './trace-search-params.js';
import { toClickHouseTime } from './time.js';

export interface TraceSummary {
  trace_id: string;
  root_name: string;
  service: string;
  project: string;
  environment: string;
  /** Epoch milliseconds of the first span. */
  start_ms: number;
  duration_ms: number;
  spans: number;
  errors: number;
}

export interface HistogramBucket {
  /** Inclusive bounds in milliseconds. */
  min_ms: number;
  max_ms: number;
  traces: number;
}

export interface TimelinePoint {
  /** Epoch milliseconds at the start of the bucket. */
  t: number;
  traces: number;
  errors: number;
}

export interface TraceSearchResult {
  from: number;
  to: number;
  total: number;
  offset: number;
  limit: number;
  traces: TraceSummary[];
  histogram: HistogramBucket[];
  /** Bucket width of `timeline`, in milliseconds. */
  step_ms: number;
  timeline: TimelinePoint[];
}

const SORT_COLUMNS: Record<SortKey, string> = { start: 'start_ms', duration: 'trace_ms', spans: 'span_count', errors: 'error_count', root: 'root_name', service: 'service' };
const HISTOGRAM_BUCKETS = 20;
/** Spans of a trace are gathered this far around the window, so a trace that starts inside it is whole. */
const TRACE_MARGIN = 'INTERVAL 1 HOUR';

/** The CTE every search query starts from: `agg`, one row per matching trace. */
function aggregate(table: string, search: TraceSearch): { sql: string; params: Record<string, string | number> } {
  const params: Record<string, string | number> = { from: toClickHouseTime(new Date(search.from)), to: toClickHouseTime(new Date(search.to)) };
  const spanWhere = ["trace_id != ''", "timestamp >= {from:DateTime64(3, 'UTC')}", "timestamp <= {to:DateTime64(3, 'UTC')}"];
  const exact: Array<[keyof TraceSearch, string]> = [['service', 'service_name'], ['project', 'project_name'], ['environment', 'environment'], ['name', 'span_name']];
  for (const [key, column] of exact) {
    const value = search[key];
    if (typeof value === 'string') {
      spanWhere.push(`${column} = {${key}:String}`);
      params[key] = value;
    }
  }
  search.attributes.forEach((a, i) => {
    spanWhere.push(`attributes[{ak${i}:String}] = {av${i}:String}`);
    params[`ak${i}`] = a.key;
    params[`av${i}`] = a.value;
  });
  if (search.text !== undefined) {
    spanWhere.push('(positionCaseInsensitiveUTF8(span_name, {q:String}) > 0 OR arrayExists(v -> positionCaseInsensitiveUTF8(v, {q:String}) > 0, mapValues(attributes)))');
    params.q = search.text;
  }
  const having: string[] = [];
  if (search.status === 'ERROR') having.push('error_count > 0');
  if (search.status === 'OK') having.push('error_count = 0');
  if (search.minMs !== undefined) {
    having.push('trace_ms >= {min_ms:UInt64}');
    params.min_ms = search.minMs;
  }
  if (search.maxMs !== undefined) {
    having.push('trace_ms <= {max_ms:UInt64}');
    params.max_ms = search.maxMs;
  }
  // The root is the span without a parent; a trace whose root has not arrived shows its earliest span instead.
  const root = (column: string) => `if(countIf(parent_span_id = '') > 0, argMinIf(${column}, timestamp, parent_span_id = ''), argMin(${column}, timestamp))`;
  const sql = `WITH agg AS (
    SELECT trace_id,
      toInt64(min(toUnixTimestamp64Milli(timestamp))) AS start_ms,
      toUInt64(max(toUnixTimestamp64Milli(timestamp) + duration_ms) - min(toUnixTimestamp64Milli(timestamp))) AS trace_ms,
      count() AS span_count,
      countIf(status_code = 'ERROR') AS error_count,
      ${root('span_name')} AS root_name,
      ${root('service_name')} AS service,
      ${root('project_name')} AS project,
      ${root('environment')} AS env
    FROM ${table}
    WHERE trace_id IN (SELECT DISTINCT trace_id FROM ${table} WHERE ${spanWhere.join(' AND ')})
      AND timestamp >= {from:DateTime64(3, 'UTC')} - ${TRACE_MARGIN} AND timestamp <= {to:DateTime64(3, 'UTC')} + ${TRACE_MARGIN}
    GROUP BY trace_id
    ${having.length ? `HAVING ${having.join(' AND ')}` : ''}
  )`;
  return { sql, params };
}

/** A bucket width for the count over time: about 60 buckets, on a round number of seconds. */
function timelineStep(spanMs: number): number {
  const steps = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 86400].map((s) => s * 1000);
  return steps.find((s) => spanMs / s <= 90) ?? 86_400_000;
}

export async function searchTraces(connection: ClickHouseConnection, table: string, search: TraceSearch): Promise<TraceSearchResult> {
  const { sql: cte, params } = aggregate(table, search);
  const [stats] = await queryRows<{ total: number; lo: number; hi: number }>(connection, `${cte} SELECT count() AS total, min(trace_ms) AS lo, max(trace_ms) AS hi FROM agg`, params);
  const total = Number(stats?.total ?? 0);
  const lo = Number(stats?.lo ?? 0);
  const width = Math.max(1, Math.ceil((Number(stats?.hi ?? 0) - lo + 1) / HISTOGRAM_BUCKETS));
  const step = timelineStep(search.to - search.from);
  const order = `${SORT_COLUMNS[search.sort]} ${search.order === 'asc' ? 'ASC' : 'DESC'}, trace_id ${search.order === 'asc' ? 'ASC' : 'DESC'}`;
  const [traces, buckets, timeline] = total === 0
    ? [[], [], []]
    : await Promise.all([
        queryRows<TraceSummary>(
          connection,
          `${cte} SELECT trace_id, root_name, service, project, env AS environment, start_ms, trace_ms AS duration_ms, span_count AS spans, error_count AS errors
           FROM agg ORDER BY ${order} LIMIT {limit:UInt32} OFFSET {offset:UInt32}`,
          { ...params, limit: search.limit, offset: search.offset },
        ),
        queryRows<{ b: number; n: number }>(connection, `${cte} SELECT intDiv(trace_ms - {lo:UInt64}, {width:UInt64}) AS b, count() AS n FROM agg GROUP BY b ORDER BY b`, { ...params, lo, width }),
        queryRows<TimelinePoint>(
          connection,
          `${cte} SELECT intDiv(start_ms, {step:Int64}) * {step:Int64} AS t, count() AS traces, countIf(error_count > 0) AS errors FROM agg GROUP BY t ORDER BY t`,
          { ...params, step },
        ),
      ]);
  const counts = new Map(buckets.map((b) => [Number(b.b), Number(b.n)]));
  const histogram: HistogramBucket[] = [];
  if (total > 0) {
    const last = Math.max(...counts.keys());
    for (let b = 0; b <= last; b++) histogram.push({ min_ms: lo + b * width, max_ms: lo + (b + 1) * width - 1, traces: counts.get(b) ?? 0 });
  }
  return {
    from: search.from,
    to: search.to,
    total,
    offset: search.offset,
    limit: search.limit,
    traces: traces.map((t) => ({ ...t, start_ms: Number(t.start_ms), duration_ms: Number(t.duration_ms), spans: Number(t.spans), errors: Number(t.errors) })),
    histogram,
    step_ms: step,
    timeline: timeline.map((p) => ({ t: Number(p.t), traces: Number(p.traces), errors: Number(p.errors) })),
  };
}
