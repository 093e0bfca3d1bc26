// Owns the overview panels, once: their SQL with {filter} and {bucket} placeholders, rendered for Grafana (its macros
// and variables) and for the built-in dashboard (bound query parameters).

export type PanelKind = 'stat' | 'timeseries' | 'barchart' | 'table';

export interface PanelDefinition {
  id: string;
  title: string;
  kind: PanelKind;
  unit?: string;
  /** SQL over `{table}`, filtered by `{filter}`; time series group by `{bucket}` AS time. */
  sql: string;
  grid: { x: number; y: number; w: number; h: number };
}

export const PANELS: readonly PanelDefinition[] = [
  { id: 'total', title: 'Total events', kind: 'stat', sql: 'SELECT count() AS value FROM {table} WHERE {filter}', grid: { x: 0, y: 0, w: 6, h: 4 } },
  { id: 'errors', title: 'Errors', kind: 'stat', sql: "SELECT countIf(status_code = 'ERROR') AS value FROM {table} WHERE {filter}", grid: { x: 6, y: 0, w: 6, h: 4 } },
  {
    id: 'error_rate',
    title: 'Error rate',
    kind: 'stat',
    unit: 'percent',
    sql: "SELECT if(count() = 0, 0, round(100 * countIf(status_code = 'ERROR') / count(), 2)) AS value FROM {table} WHERE {filter}",
    grid: { x: 12, y: 0, w: 6, h: 4 },
  },
  {
    id: 'p95',
    title: 'p95 latency',
    kind: 'stat',
    unit: 'ms',
    sql: 'SELECT round(quantile(0.95)(duration_ms), 1) AS value FROM {table} WHERE {filter}',
    grid: { x: 18, y: 0, w: 6, h: 4 },
  },
  {
    id: 'events_over_time',
    title: 'Events over time',
    kind: 'timeseries',
    sql: "SELECT {bucket} AS time, count() AS events, countIf(status_code = 'ERROR') AS errors FROM {table} WHERE {filter} GROUP BY time ORDER BY time",
    grid: { x: 0, y: 4, w: 12, h: 8 },
  },
  {
    id: 'latency_over_time',
    title: 'Latency over time (ms)',
    kind: 'timeseries',
    unit: 'ms',
    sql: 'SELECT {bucket} AS time, round(quantile(0.5)(duration_ms), 1) AS p50, round(quantile(0.95)(duration_ms), 1) AS p95 FROM {table} WHERE {filter} GROUP BY time ORDER BY time',
    grid: { x: 12, y: 4, w: 12, h: 8 },
  },
  {
    id: 'by_project',
    title: 'Events by project',
    kind: 'barchart',
    sql: 'SELECT project_name AS project, count() AS events FROM {table} WHERE {filter} GROUP BY project ORDER BY events DESC, project LIMIT 20',
    grid: { x: 0, y: 12, w: 8, h: 8 },
  },
  {
    id: 'top_events',
    title: 'Top events',
    kind: 'table',
    sql: "SELECT span_name AS event, count() AS events, countIf(status_code = 'ERROR') AS errors, round(quantile(0.95)(duration_ms), 1) AS p95_ms FROM {table} WHERE {filter} GROUP BY event ORDER BY events DESC, event LIMIT 20",
    grid: { x: 8, y: 12, w: 8, h: 8 },
  },
  {
    id: 'recent_errors',
    title: 'Recent errors',
    kind: 'table',
    sql: "SELECT timestamp, project_name AS project, span_name AS event, status_message AS message FROM {table} WHERE {filter} AND status_code = 'ERROR' ORDER BY timestamp DESC LIMIT 20",
    grid: { x: 16, y: 12, w: 8, h: 8 },
  },
];

/**
 * A table as a query names it: qualified with `database`, or bare when none is given, for Grafana, whose datasource
 * sets the default database (AUTOMAGIK_TELEMETRY_CLICKHOUSE_DATABASE), so one dashboard serves any database name.
 */
export function tableRef(database: string | undefined, table: string): string {
  return database === undefined ? table : `${database}.${table}`;
}

/** The panel SQL with Grafana's macros and variables, as the provisioned dashboard runs it. */
export function grafanaSql(panel: PanelDefinition, database?: string): string {
  return panel.sql
    .replaceAll('{table}', tableRef(database, 'traces'))
    .replaceAll('{filter}', "project_name IN (${project:singlequote}) AND environment IN (${environment:singlequote}) AND $__timeFilter(timestamp)")
    .replaceAll('{bucket}', '$__timeInterval(timestamp)');
}

/** The panel SQL with bound parameters: {from} {to} DateTime64(3), {project} String ('' = all), {step} seconds. */
export function boundSql(panel: PanelDefinition, database: string): string {
  return panel.sql
    .replaceAll('{table}', `${database}.traces`)
    .replaceAll(
      '{filter}',
      "timestamp >= {from:DateTime64(3, 'UTC')} AND timestamp <= {to:DateTime64(3, 'UTC')} AND ({project:String} = '' OR project_name = {project:String})",
    )
    .replaceAll('{bucket}', 'toStartOfInterval(toDateTime(timestamp), INTERVAL {step:UInt32} second)');
}

/** A bucket width that gives about 60 points over a range. */
export function stepFor(rangeMs: number): number {
  const steps = [10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 86400];
  return steps.find((s) => (rangeMs / 1000) / s <= 90) ?? 86400;
}
