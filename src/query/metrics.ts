// Owns the named query behind `query-metrics`: each metric's points summed up per hour, day or attribute value, from
// the hourly rollup when the window is long and whole hours do, from the raw points otherwise.

import { queryRows, type ClickHouseConnection } from '../clickhouse/http-client.js';
import { TelemetryError } from '../errors.js';
import { toClickHouseTime } from './time.js';

export type MetricGrouping = 'hour' | 'day' | `attribute:${string}`;

export interface MetricSummaryRow {
  bucket: string;
  metric: string;
  type: string;
  unit: string;
  /** Data points in the bucket. */
  points: number;
  /** Gauges and sums: the values' sum. Histograms and summaries: the observations' sum. */
  sum: number;
  /** Gauges and sums: the values' mean. Histograms and summaries: the observations' mean. */
  avg: number;
  min: number | null;
  max: number | null;
  /** Gauges and sums: the latest value. */
  last: number | null;
  /** Histograms and summaries: how many observations. */
  count: number;
}

export interface MetricSummary {
  source: 'metric_points_hourly' | 'metrics';
  since: string;
  rows: MetricSummaryRow[];
}

/** Windows shorter than this, and attribute groupings, read raw points: the rollup knows whole hours and no attributes. */
const RAW_WINDOW_MS = 6 * 3_600_000;

export function parseGrouping(value: string): MetricGrouping {
  if (value === 'hour' || value === 'day') return value;
  if (/^attribute:.+$/.test(value)) return value as MetricGrouping;
  throw new TelemetryError('E_CONFIG', `--by ${JSON.stringify(value)} is not one of hour, day, attribute:<key>`);
}

export async function queryMetrics(
  connection: ClickHouseConnection,
  database: string,
  options: { since: Date; by: MetricGrouping; name?: string; project?: string },
  now = Date.now(),
): Promise<MetricSummary> {
  const attribute = options.by.startsWith('attribute:') ? options.by.slice('attribute:'.length) : undefined;
  const raw = attribute !== undefined || now - options.since.getTime() < RAW_WINDOW_MS;
  const params: Record<string, string> = { since: toClickHouseTime(options.since) };
  const filters: string[] = [];
  if (options.name !== undefined) {
    filters.push('metric_name = {name:String}');
    params.name = options.name;
  }
  if (options.project !== undefined) {
    filters.push('project_name = {project:String}');
    params.project = options.project;
  }
  if (attribute !== undefined) params.attribute = attribute;
  const time = raw ? 'timestamp' : 'hour';
  const bucket = attribute !== undefined ? 'attributes[{attribute:String}]' : options.by === 'day' ? `toString(toDate(${time}))` : `toString(toStartOfHour(${time}))`;
  const value = "metric_type IN ('gauge', 'sum')";
  // Aliases differ from the column names (sum, count, min, max) so that no alias shadows a column inside an aggregate.
  const measures = raw
    ? `count() AS points,
       if(${value}, sum(value), sum(sum)) AS total,
       toUInt64(sum(count)) AS observations,
       if(${value}, avg(value), if(observations = 0, 0, total / observations)) AS mean,
       if(${value}, min(value), min(min)) AS lo,
       if(${value}, max(value), max(max)) AS hi,
       if(${value}, argMax(value, timestamp), NULL) AS latest`
    : `toUInt64(sum(points)) AS n,
       if(${value}, sum(value_sum), sum(obs_sum)) AS total,
       toUInt64(sum(obs_count)) AS observations,
       if(${value}, total / n, if(observations = 0, 0, total / observations)) AS mean,
       if(${value}, min(value_min), NULL) AS lo,
       if(${value}, max(value_max), NULL) AS hi,
       if(${value}, argMaxMerge(value_last), NULL) AS latest`;
  const from = raw
    ? `${database}.metrics WHERE timestamp >= {since:DateTime64(3, 'UTC')}`
    : `${database}.metric_points_hourly_states WHERE hour >= toStartOfHour(toDateTime({since:DateTime64(3, 'UTC')}))`;
  const found = await queryRows<{ bucket: string; metric: string; type: string; unit: string; n?: number; points?: number; total: number; observations: number; mean: number; lo: number | null; hi: number | null; latest: number | null }>(
    connection,
    `SELECT ${bucket} AS bucket, metric_name AS metric, metric_type AS type, any(unit) AS unit, ${measures}
     FROM ${from}${filters.map((f) => ` AND ${f}`).join('')}
     GROUP BY bucket, metric, type ORDER BY metric, type, bucket`,
    params,
  );
  const rows = found.map((r) => ({
    bucket: r.bucket,
    metric: r.metric,
    type: r.type,
    unit: r.unit,
    points: Number(r.points ?? r.n ?? 0),
    sum: r.total,
    avg: r.mean,
    min: r.lo,
    max: r.hi,
    last: r.latest,
    count: Number(r.observations),
  }));
  return { source: raw ? 'metrics' : 'metric_points_hourly', since: params.since as string, rows };
}
