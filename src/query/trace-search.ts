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
/** Spans of a trace are gathered this far around the window, so a trace that starts inside it is whole. */
const TRACE_MARGIN = 'INTERVAL 1 HOUR';

/**
 * The CTE every search query starts from: `agg`, one row per matching trace with start_ms, trace_ms, span_count and
 * error_count, and with `withRoot` its root span's (name, service, project, environment) as `root`.
 */
function aggregate(table: string, search: TraceSearch, withRoot: boolean): { sql: string; params: Record<string, string | number> } {
  const params: Record<string, string | number> = { from: toClickHouseTime(new Date(search.from)), to: toClickHouseTime(new Date(search.to)) };
  const window = "timestamp >= {from:DateTime64(3, 'UTC')} AND timestamp <= {to:DateTime64(3, 'UTC')}";
  const spanWhere: string[] = [];
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
  // Traces are gathered through the spans that can make them match (a span matching every span filter; an error
  // span for status=ERROR), so a selective search never aggregates the whole window.
  const picks: string[] = [];
  if (spanWhere.length > 0) picks.push(`trace_id IN (SELECT trace_id FROM ${table} WHERE ${window} AND ${spanWhere.join(' AND ')})`);
  if (search.status === 'ERROR') picks.push(`trace_id IN (SELECT trace_id FROM ${table} WHERE ${window} AND status_code = 'ERROR')`);
  const having: string[] = [];
  if (picks.length === 0) having.push(`countIf(${window}) > 0`);
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
  // The root is the span without a parent (false sorts first), else the earliest: one argMin for all four columns.
  const sql = `WITH agg AS (
    SELECT trace_id,
      toInt64(min(toUnixTimestamp64Milli(timestamp))) AS start_ms,
      toUInt64(max(toUnixTimestamp64Milli(timestamp) + duration_ms) - min(toUnixTimestamp64Milli(timestamp))) AS trace_ms,
      count() AS span_count,
      countIf(status_code = 'ERROR') AS error_count${withRoot ? `,
      argMin((span_name, service_name, project_name, environment), (parent_span_id != '', timestamp)) AS root` : ''}
    FROM ${table}
    WHERE ${[...picks, "trace_id != ''", `timestamp >= {from:DateTime64(3, 'UTC')} - ${TRACE_MARGIN}`, `timestamp <= {to:DateTime64(3, 'UTC')} + ${TRACE_MARGIN}`].join(' AND ')}
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

/**
 * Histogram bucket edges in milliseconds, 1-2-3-5-7 in each decade: latencies spread over decades, so buckets of
 * equal width would put everything under a second into the first one. Bucket i holds [EDGES[i-1] (or 0), EDGES[i]).
 */
const EDGES: readonly number[] = (() => {
  const edges: number[] = [];
  for (let decade = 1; decade <= 1e9; decade *= 10) for (const m of [1, 2, 3, 5, 7]) edges.push(m * decade);
  edges.push(4_294_967_296);
  return edges;
})();

interface Summary {
  total: number;
  histogram: [number[], number[]];
  timeline: [number[], number[]];
  timeline_errors: [number[], number[]];
}

export async function searchTraces(connection: ClickHouseConnection, table: string, search: TraceSearch): Promise<TraceSearchResult> {
  const light = aggregate(table, search, false);
  const step = timelineStep(search.to - search.from);
  const direction = search.order === 'asc' ? 'ASC' : 'DESC';
  const order = `${SORT_COLUMNS[search.sort]} ${direction}, trace_id ${direction}`;
  const byRoot = search.sort === 'root' || search.sort === 'service';
  // The page's traces are picked without their roots (the costly part) unless sorted by them; only the page's are
  // then read whole. The counts (total, histogram, timeline) run beside it, without roots either.
  const pageSql = byRoot
    ? `${aggregate(table, search, true).sql} SELECT trace_id, root.1 AS root_name, root.2 AS service, root.3 AS project, root.4 AS environment, start_ms,
         trace_ms AS duration_ms, span_count AS spans, error_count AS errors FROM agg ORDER BY ${order} LIMIT {limit:UInt32} OFFSET {offset:UInt32}`
    : `${light.sql}, page AS (SELECT trace_id FROM agg ORDER BY ${order} LIMIT {limit:UInt32} OFFSET {offset:UInt32})
       SELECT trace_id, root.1 AS root_name, root.2 AS service, root.3 AS project, root.4 AS environment, start_ms, trace_ms AS duration_ms, spans, errors FROM (
         SELECT trace_id,
           toInt64(min(toUnixTimestamp64Milli(timestamp))) AS start_ms,
           toUInt64(max(toUnixTimestamp64Milli(timestamp) + duration_ms) - min(toUnixTimestamp64Milli(timestamp))) AS trace_ms,
           count() AS spans, countIf(status_code = 'ERROR') AS errors,
           argMin((span_name, service_name, project_name, environment), (parent_span_id != '', timestamp)) AS root
         FROM ${table}
         WHERE trace_id IN (SELECT trace_id FROM page)
           AND timestamp >= {from:DateTime64(3, 'UTC')} - ${TRACE_MARGIN} AND timestamp <= {to:DateTime64(3, 'UTC')} + ${TRACE_MARGIN}
         GROUP BY trace_id)
       ORDER BY ${order.replace('span_count', 'spans').replace('error_count', 'errors')}`;
  const [traces, [summary]] = await Promise.all([
    queryRows<TraceSummary>(connection, pageSql, { ...light.params, limit: search.limit, offset: search.offset }),
    queryRows<Summary>(
      connection,
      `${light.sql} SELECT count() AS total,
         sumMap([toUInt32(arrayFirstIndex(e -> trace_ms < e, {edges:Array(UInt64)}))], [toUInt64(1)]) AS histogram,
         sumMap([intDiv(start_ms, {step:Int64}) * {step:Int64}], [toUInt64(1)]) AS timeline,
         sumMap([intDiv(start_ms, {step:Int64}) * {step:Int64}], [toUInt64(error_count > 0)]) AS timeline_errors
       FROM agg`,
      { ...light.params, step, edges: `[${EDGES.join(',')}]` },
    ),
  ]);
  const total = Number(summary?.total ?? 0);
  const counts = new Map((summary?.histogram[0] ?? []).map((b, i) => [Number(b), Number(summary?.histogram[1][i])]));
  const histogram: HistogramBucket[] = [];
  if (counts.size > 0) {
    const present = [...counts.keys()];
    for (let b = Math.min(...present); b <= Math.max(...present); b++) {
      histogram.push({ min_ms: b === 1 ? 0 : (EDGES[b - 2] as number), max_ms: (EDGES[b - 1] as number) - 1, traces: counts.get(b) ?? 0 });
    }
  }
  const errorsAt = new Map((summary?.timeline_errors[0] ?? []).map((t, i) => [Number(t), Number(summary?.timeline_errors[1][i])]));
  const timeline = (summary?.timeline[0] ?? []).map((t, i) => ({ t: Number(t), traces: Number(summary?.timeline[1][i]), errors: errorsAt.get(Number(t)) ?? 0 }));
  return {
    from: search.from,
    to: search.to,
    total,
    offset: search.offset,
    limit: search.limit,
    traces: traces.map((t) => ({ ...t, start_ms: Number(t.start_ms), duration_ms: Number(t.duration_ms), spans: Number(t.spans), errors: Number(t.errors) })),
    histogram,
    step_ms: step,
    timeline,
  };
}
