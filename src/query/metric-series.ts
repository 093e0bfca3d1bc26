// Owns the metrics explorer's queries: the metric names in a window, and one metric's series over it (gauges as
// values, monotonic sums as rates per second, histograms as p50/p95/p99), split by one attribute; every value bound.
import { queryRows, type ClickHouseConnection } from '../clickhouse/http-client.js';
import { bucketQuantile } from './histogram-quantile.js';
import type { MetricQuery } from './metric-series-params.js';
import { toClickHouseTime } from './time.js';

export interface MetricName {
  name: string;
  type: string;
  unit: string;
  points: number;
}

export interface MetricNamesResult {
  from: number;
  to: number;
  source: 'metrics' | 'metric_points_hourly';
  metrics: MetricName[];
}

/** How a metric is charted: its values (gauges, sums that go up and down), a rate per second (monotonic sums),
 * quantiles from bucket counts (histograms), the mean observation (exponential histograms, summaries). */
export type MetricKind = 'value' | 'rate' | 'quantiles' | 'mean';

export interface MetricSeries {
  /** The split attribute's value ('' when not split, or for points without the attribute). */
  group: string;
  /** value, rate, p50, p95, p99 or mean. */
  stat: string;
  /** Bucket start (epoch ms) and value, ascending; buckets without points are left out. */
  points: Array<[number, number]>;
}

export interface MetricSeriesResult {
  from: number;
  to: number;
  name: string;
  /** The stored kind (gauge, sum, histogram, ...); '' when the window holds no point of the metric. */
  type: string;
  kind: MetricKind;
  unit: string;
  description: string;
  monotonic: boolean;
  /** The attribute keys the metric's points carry in the window (what it can be split by). */
  attribute_keys: string[];
  source: 'metrics' | 'metric_points_hourly';
  step_ms: number;
  by?: string;
  series: MetricSeries[];
  /** With `by`: values of the attribute left out by `top`. */
  other_groups: number;
}

const MAX_NAMES = 500;
const MAX_KEYS = 100;
/** Windows longer than this may read the hourly rollup (it holds whole hours, no attributes, no buckets). */
const ROLLUP_FROM_MS = 6 * 3_600_000;
const QUANTILES: ReadonlyArray<[string, number]> = [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]];

/** A bucket width for about 150 points or fewer, on a round number of seconds. */
export function metricStep(spanMs: number): number {
  const steps = [10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 43200, 86400].map((s) => s * 1000);
  return steps.find((s) => spanMs / s <= 150) ?? 86_400_000;
}

function commonFilters(query: MetricQuery): { clauses: string[]; params: Record<string, string | number> } {
  const clauses: string[] = [];
  const params: Record<string, string | number> = { from: toClickHouseTime(new Date(query.from)), to: toClickHouseTime(new Date(query.to)) };
  for (const [key, column] of [['project', 'project_name'], ['service', 'service_name'], ['environment', 'environment']] as const) {
    const value = query[key];
    if (value !== undefined) {
      clauses.push(`${column} = {${key}:String}`);
      params[key] = value;
    }
  }
  return { clauses, params };
}

export async function metricNames(connection: ClickHouseConnection, database: string, query: MetricQuery): Promise<MetricNamesResult> {
  const { clauses, params } = commonFilters(query);
  // The rollup knows project, name, kind and unit per hour: enough for the list unless a service or environment is asked.
  const rollup = query.to - query.from > ROLLUP_FROM_MS && query.service === undefined && query.environment === undefined;
  if (query.search !== undefined) {
    clauses.push('positionCaseInsensitiveUTF8(metric_name, {q:String}) > 0');
    params.q = query.search;
  }
  const sql = rollup
    ? `SELECT metric_name AS name, metric_type AS type, unit, toUInt64(sum(points)) AS points FROM ${database}.metric_points_hourly_state
       WHERE ${['hour >= toStartOfHour(toDateTime({from:DateTime64(3, \'UTC\')}))', "hour <= {to:DateTime64(3, 'UTC')}", ...clauses].join(' AND ')}`
    : `SELECT metric_name AS name, metric_type AS type, unit, count() AS points FROM ${database}.metrics
       WHERE ${["timestamp >= {from:DateTime64(3, 'UTC')}", "timestamp <= {to:DateTime64(3, 'UTC')}", ...clauses].join(' AND ')}`;
  const rows = await queryRows<MetricName>(
    connection,
    `SELECT name, type, any(unit) AS unit, toUInt64(sum(points)) AS points FROM (${sql} GROUP BY name, type, unit) GROUP BY name, type ORDER BY name, type LIMIT ${MAX_NAMES}`,
    params,
  );
  return { from: query.from, to: query.to, source: rollup ? 'metric_points_hourly' : 'metrics', metrics: rows.map((r) => ({ ...r, points: Number(r.points) })) };
}

type SeriesQuery = MetricQuery & { name: string };

export async function metricSeries(connection: ClickHouseConnection, database: string, query: SeriesQuery): Promise<MetricSeriesResult> {
  const step = metricStep(query.to - query.from);
  const { clauses, params } = commonFilters(query);
  clauses.push('metric_name = {name:String}');
  params.name = query.name;
  params.step = step;
  const window = ["timestamp >= {from:DateTime64(3, 'UTC')}", "timestamp <= {to:DateTime64(3, 'UTC')}"];
  const [[shape], keys] = await Promise.all([
    queryRows<{ type: string; unit: string; monotonic: number; description: string }>(
      connection,
      `SELECT metric_type AS type, any(unit) AS unit, toUInt8(max(is_monotonic)) AS monotonic, any(description) AS description
       FROM ${database}.metrics WHERE ${[...window, ...clauses].join(' AND ')} GROUP BY type ORDER BY count() DESC LIMIT 1`,
      params,
    ),
    queryRows<{ k: string }>(connection, `SELECT DISTINCT arrayJoin(mapKeys(attributes)) AS k FROM ${database}.metrics WHERE ${[...window, ...clauses].join(' AND ')} ORDER BY k LIMIT ${MAX_KEYS}`, params),
  ]);
  const type = shape?.type ?? '';
  const monotonic = shape?.monotonic === 1;
  const kind: MetricKind = type === 'histogram' ? 'quantiles' : type === 'sum' && monotonic ? 'rate' : type === 'gauge' || type === 'sum' || type === '' ? 'value' : 'mean';
  const base = { from: query.from, to: query.to, name: query.name, type, kind, unit: shape?.unit ?? '', description: shape?.description ?? '', monotonic, attribute_keys: keys.map((k) => k.k), step_ms: step, ...(query.by !== undefined ? { by: query.by } : {}) };
  if (type === '') return { ...base, source: 'metrics', series: [], other_groups: 0 };
  clauses.push('metric_type = {type:String}');
  params.type = type;

  if (kind === 'value' && query.by === undefined && query.service === undefined && query.environment === undefined && step >= 3_600_000) {
    // Whole hours, one series: the hourly rollup holds each hour's sum and count of values per project, name and kind
    // (the only filters left here).
    const rows = await queryRows<{ t: number; v: number }>(
      connection,
      `SELECT intDiv(toInt64(toUnixTimestamp(hour)) * 1000, {step:Int64}) * {step:Int64} AS t, sum(value_sum) / sum(points) AS v
       FROM ${database}.metric_points_hourly_state
       WHERE ${["hour >= toStartOfHour(toDateTime({from:DateTime64(3, 'UTC')}))", "hour <= {to:DateTime64(3, 'UTC')}", ...clauses].join(' AND ')}
       GROUP BY t HAVING sum(points) > 0 ORDER BY t`,
      params,
    );
    return { ...base, source: 'metric_points_hourly', series: [{ group: '', stat: 'value', points: rows.map((r) => [Number(r.t), Number(r.v)]) }], other_groups: 0 };
  }

  // The split: the `top` attribute values with the most points in the window.
  let groupExpr = "''";
  let groups: string[] = [''];
  let other = 0;
  if (query.by !== undefined) {
    groupExpr = 'attributes[{by:String}]';
    params.by = query.by;
    const ranked = await queryRows<{ g: string; n: number }>(
      connection,
      `SELECT ${groupExpr} AS g, count() AS n FROM ${database}.metrics WHERE ${[...window, ...clauses].join(' AND ')} GROUP BY g ORDER BY n DESC, g LIMIT 1000`,
      params,
    );
    groups = ranked.slice(0, query.top).map((r) => r.g);
    other = ranked.length - groups.length;
    groups.forEach((g, i) => {
      params[`g${i}`] = g;
    });
  }
  const inGroups = query.by !== undefined ? [`${groupExpr} IN (${groups.map((_, i) => `{g${i}:String}`).join(', ') || "''"})`] : [];
  const bucket = 'intDiv(toInt64(toUnixTimestamp64Milli(timestamp)), {step:Int64}) * {step:Int64}';
  // Cumulative series need the point before the window to know the first increase: read one step earlier.
  const widened = ["timestamp >= {from:DateTime64(3, 'UTC')} - toIntervalMillisecond({step:Int64})", "timestamp <= {to:DateTime64(3, 'UTC')}", ...clauses, ...inGroups];
  const series = "PARTITION BY service_name, project_name, environment, toString(attributes) ORDER BY timestamp ROWS BETWEEN 1 PRECEDING AND CURRENT ROW";
  // A cumulative series' first point counts whole only when the series started inside what was read.
  const started = "start_timestamp >= {from:DateTime64(3, 'UTC')} - toIntervalMillisecond({step:Int64})";
  const inWindow = "t >= intDiv(toInt64(toUnixTimestamp64Milli({from:DateTime64(3, 'UTC')})), {step:Int64}) * {step:Int64}";
  let out: MetricSeries[] = [];

  if (kind === 'value' || kind === 'mean') {
    const value = kind === 'value' ? 'avg(value)' : 'if(sum(count) = 0, NULL, sum(sum) / sum(count))';
    const rows = await queryRows<{ t: number; g: string; v: number | null }>(
      connection,
      `SELECT ${bucket} AS t, ${groupExpr} AS g, ${value} AS v FROM ${database}.metrics WHERE ${[...window, ...clauses, ...inGroups].join(' AND ')} GROUP BY t, g ORDER BY t`,
      params,
    );
    out = groups.map((g) => ({ group: g, stat: kind, points: rows.filter((r) => r.g === g && r.v !== null).map((r) => [Number(r.t), Number(r.v)] as [number, number]) }));
  } else if (kind === 'rate') {
    // Each point's increase over the time since the series' previous point (cumulative) or since its start time
    // (delta); per series the bucket's increases over their time, per group the series' sum. Delta points with no start time are
    // increments: their sum over the bucket's width.
    const rows = await queryRows<{ t: number; g: string; v: number }>(
      connection,
      `SELECT t, g, sum(sr) AS v FROM (
         SELECT t, g, sid, if(countIf(dt_ms > 0) > 0, sumIf(inc, dt_ms > 0) / (sumIf(dt_ms, dt_ms > 0) / 1000), sum(inc) / ({step:Int64} / 1000)) AS sr FROM (
           SELECT ${bucket} AS t, ${groupExpr} AS g, cityHash64(service_name, project_name, environment, toString(attributes)) AS sid,
             lagInFrame(toNullable(value)) OVER (${series}) AS prev,
             lagInFrame(toNullable(timestamp)) OVER (${series}) AS prev_ts,
             multiIf(temporality != 'cumulative', value, prev IS NULL, if(${started}, value, 0), value >= prev, value - prev, value) AS inc,
             multiIf(temporality = 'cumulative' AND prev_ts IS NOT NULL, toUnixTimestamp64Milli(timestamp) - toUnixTimestamp64Milli(prev_ts),
                     temporality != 'cumulative' AND start_timestamp > toDateTime64(0, 9, 'UTC') AND timestamp > start_timestamp, toUnixTimestamp64Milli(timestamp) - toUnixTimestamp64Milli(start_timestamp),
                     NULL) AS dt_ms
           FROM ${database}.metrics WHERE ${widened.join(' AND ')})
         WHERE ${inWindow} GROUP BY t, g, sid)
       GROUP BY t, g ORDER BY t`,
      params,
    );
    out = groups.map((g) => ({ group: g, stat: 'rate', points: rows.filter((r) => r.g === g).map((r) => [Number(r.t), Number(r.v)] as [number, number]) }));
  } else {
    const rows = await queryRows<{ t: number; g: string; bounds: number[]; counts: Array<number | string>; lo: number | null; hi: number | null }>(
      connection,
      `SELECT t, g, bounds, sumForEach(inc) AS counts, min(lo) AS lo, max(hi) AS hi FROM (
         SELECT ${bucket} AS t, ${groupExpr} AS g, explicit_bounds AS bounds, min AS lo, max AS hi,
           lagInFrame(bucket_counts) OVER (${series}) AS prev,
           multiIf(temporality != 'cumulative', bucket_counts,
                   empty(prev), if(${started}, bucket_counts, arrayMap(c -> toUInt64(0), bucket_counts)),
                   length(prev) = length(bucket_counts) AND arrayAll((c, p) -> c >= p, bucket_counts, prev), arrayMap((c, p) -> toUInt64(c - p), bucket_counts, prev),
                   bucket_counts) AS inc
         FROM ${database}.metrics WHERE ${widened.join(' AND ')})
       WHERE ${inWindow} GROUP BY t, g, bounds ORDER BY t`,
      params,
    );
    // Points with other bounds in the same bucket cannot be added up: the bounds with the most observations win.
    const best = new Map<string, { t: number; g: string; bounds: number[]; counts: number[]; lo: number | null; hi: number | null; n: number }>();
    for (const r of rows) {
      const counts = r.counts.map(Number);
      const n = counts.reduce((a, b) => a + b, 0);
      const key = `${r.t}\u0000${r.g}`;
      if ((best.get(key)?.n ?? -1) < n) best.set(key, { t: Number(r.t), g: r.g, bounds: r.bounds.map(Number), counts, lo: r.lo, hi: r.hi, n });
    }
    for (const g of groups) {
      const buckets = [...best.values()].filter((b) => b.g === g).sort((a, b) => a.t - b.t);
      for (const [stat, q] of QUANTILES) {
        const points: Array<[number, number]> = [];
        for (const b of buckets) {
          const v = bucketQuantile(q, b.counts, b.bounds, b.lo, b.hi);
          if (v !== undefined) points.push([b.t, v]);
        }
        out.push({ group: g, stat, points });
      }
    }
  }
  return { ...base, source: 'metrics', series: out, other_groups: other };
}
