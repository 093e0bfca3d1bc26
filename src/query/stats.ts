// Owns the named query behind `query-stats`: totals, error rate and latency percentiles, from the hourly rollup or the raw rows.

import { queryRows, type ClickHouseConnection } from '../clickhouse/http-client.js';
import { toClickHouseTime } from './time.js';

export const STATS_GROUPINGS = ['hour', 'day', 'project', 'event'] as const;
export type StatsGrouping = (typeof STATS_GROUPINGS)[number];

export interface StatsRow {
  bucket: string;
  total: number;
  errors: number;
  error_rate: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
}

export interface StatsResult {
  /** Where the numbers came from: the hourly rollup (whole hours) or the raw table (the exact window). */
  source: 'metrics_hourly' | 'traces';
  since: string;
  rows: StatsRow[];
  total: StatsRow;
}

/** Windows shorter than this are counted from raw rows: the rollup only knows whole hours. */
const RAW_WINDOW_MS = 6 * 3_600_000;

export async function queryStats(
  connection: ClickHouseConnection,
  database: string,
  options: { since: Date; project?: string; by: StatsGrouping },
  now = Date.now(),
): Promise<StatsResult> {
  const raw = options.by === 'event' || now - options.since.getTime() < RAW_WINDOW_MS;
  const params: Record<string, string> = { since: toClickHouseTime(options.since) };
  if (options.project !== undefined) params.project = options.project;
  const projectFilter = options.project !== undefined ? ' AND project_name = {project:String}' : '';

  const measures = raw
    ? `count() AS total, countIf(status_code = 'ERROR') AS errors, quantiles(0.5, 0.95, 0.99)(duration_ms) AS q`
    : 'sum(total_count) AS total, sum(error_count) AS errors, quantilesMerge(0.5, 0.95, 0.99)(duration_ms_q) AS q';
  const from = raw
    ? `${database}.traces WHERE timestamp >= {since:DateTime64(3, 'UTC')}${projectFilter}`
    : `${database}.metrics_hourly_states WHERE hour >= toStartOfHour(toDateTime({since:DateTime64(3, 'UTC')}))${projectFilter}`;
  const time = raw ? 'timestamp' : 'hour';
  const bucket = {
    hour: `toString(toStartOfHour(${time}))`,
    day: `toString(toDate(${time}))`,
    project: 'project_name',
    event: 'span_name',
  }[options.by];
  const shape = `toUInt64(total) AS total, toUInt64(errors) AS errors, if(total = 0, 0, round(errors / total, 4)) AS error_rate,
    round(q[1], 1) AS p50_ms, round(q[2], 1) AS p95_ms, round(q[3], 1) AS p99_ms`;

  const rows = await queryRows<StatsRow>(
    connection,
    `SELECT bucket, ${shape} FROM (SELECT ${bucket} AS bucket, ${measures} FROM ${from} GROUP BY bucket) ORDER BY ${options.by === 'hour' || options.by === 'day' ? 'bucket' : 'total DESC, bucket'}`,
    params,
  );
  const [total] = await queryRows<StatsRow>(connection, `SELECT 'total' AS bucket, ${shape} FROM (SELECT ${measures} FROM ${from})`, params);
  return {
    source: raw ? 'traces' : 'metrics_hourly',
    since: params.since as string,
    rows,
    total: total ?? { bucket: 'total', total: 0, errors: 0, error_rate: 0, p50_ms: 0, p95_ms: 0, p99_ms: 0 },
  };
}
