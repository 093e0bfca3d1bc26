// Owns the provisioned Grafana Logs and Metrics dashboards as typed objects (Grafana's own schema types), written to templates/.

import type { Dashboard, Panel } from '@grafana/schema';
import { DATASOURCE, sqlPanel } from './grafana.js';
import { tableRef } from './panels.js';

interface SignalPanel {
  title: string;
  kind: 'stat' | 'timeseries' | 'barchart' | 'table';
  unit?: string;
  /** SQL with {db}.<table> for a table (bare in the provisioned dashboards) and {filter} for the dashboard's variables and time range. */
  sql: string;
  grid: { x: number; y: number; w: number; h: number };
}

const LOG_FILTER =
  'project_name IN (${project:singlequote}) AND service_name IN (${service:singlequote}) AND severity_number >= ${min_severity} AND $__timeFilter(timestamp)';

export const LOG_PANELS: readonly SignalPanel[] = [
  { title: 'Log records', kind: 'stat', sql: 'SELECT count() AS value FROM {db}.logs WHERE {filter}', grid: { x: 0, y: 0, w: 8, h: 4 } },
  { title: 'Warnings', kind: 'stat', sql: 'SELECT countIf(severity_number BETWEEN 13 AND 16) AS value FROM {db}.logs WHERE {filter}', grid: { x: 8, y: 0, w: 8, h: 4 } },
  { title: 'Errors and fatals', kind: 'stat', sql: 'SELECT countIf(severity_number >= 17) AS value FROM {db}.logs WHERE {filter}', grid: { x: 16, y: 0, w: 8, h: 4 } },
  {
    title: 'Log records over time, by severity',
    kind: 'timeseries',
    sql:
      'SELECT $__timeInterval(timestamp) AS time, countIf(severity_number < 13) AS info_and_below, countIf(severity_number BETWEEN 13 AND 16) AS warn, ' +
      'countIf(severity_number >= 17) AS error FROM {db}.logs WHERE {filter} GROUP BY time ORDER BY time',
    grid: { x: 0, y: 4, w: 16, h: 8 },
  },
  { title: 'Log records by service', kind: 'barchart', sql: 'SELECT service_name AS service, count() AS records FROM {db}.logs WHERE {filter} GROUP BY service ORDER BY records DESC, service LIMIT 20', grid: { x: 16, y: 4, w: 8, h: 8 } },
  {
    title: 'Recent log records',
    kind: 'table',
    sql: 'SELECT timestamp, severity_text AS severity, service_name AS service, body, trace_id, attributes FROM {db}.logs WHERE {filter} ORDER BY timestamp DESC LIMIT 200',
    grid: { x: 0, y: 12, w: 24, h: 12 },
  },
];

const METRIC_FILTER = 'project_name IN (${project:singlequote}) AND metric_name IN (${metric:singlequote}) AND $__timeFilter(timestamp)';

export const METRIC_PANELS: readonly SignalPanel[] = [
  { title: 'Metrics', kind: 'stat', sql: 'SELECT uniqExact(metric_name) AS value FROM {db}.metrics WHERE {filter}', grid: { x: 0, y: 0, w: 8, h: 4 } },
  { title: 'Data points', kind: 'stat', sql: 'SELECT count() AS value FROM {db}.metrics WHERE {filter}', grid: { x: 8, y: 0, w: 8, h: 4 } },
  {
    title: 'Data points per hour (rollup)',
    kind: 'stat',
    sql: 'SELECT toUInt64(sum(points)) AS value FROM {db}.metric_points_hourly_states WHERE project_name IN (${project:singlequote}) AND metric_name IN (${metric:singlequote}) AND $__timeFilter(hour)',
    grid: { x: 16, y: 0, w: 8, h: 4 },
  },
  {
    title: 'Gauges and sums (mean value)',
    kind: 'timeseries',
    sql: "SELECT $__timeInterval(timestamp) AS time, metric_name, avg(value) AS value FROM {db}.metrics WHERE {filter} AND metric_type IN ('gauge', 'sum') GROUP BY time, metric_name ORDER BY time",
    grid: { x: 0, y: 4, w: 12, h: 9 },
  },
  {
    title: 'Histograms and summaries (mean observation)',
    kind: 'timeseries',
    sql:
      "SELECT $__timeInterval(timestamp) AS time, metric_name, if(sum(count) = 0, 0, sum(sum) / sum(count)) AS mean FROM {db}.metrics WHERE {filter} " +
      "AND metric_type IN ('histogram', 'exponential_histogram', 'summary') GROUP BY time, metric_name ORDER BY time",
    grid: { x: 12, y: 4, w: 12, h: 9 },
  },
  {
    title: 'Metric catalog',
    kind: 'table',
    sql:
      "SELECT metric_name AS metric, metric_type AS type, any(unit) AS unit, count() AS points, if(metric_type IN ('gauge', 'sum'), argMax(value, timestamp), NULL) AS last_value, " +
      'toUInt64(sum(count)) AS observations, any(description) AS description FROM {db}.metrics WHERE {filter} GROUP BY metric, type ORDER BY metric, type',
    grid: { x: 0, y: 13, w: 24, h: 10 },
  },
];

function panelsFor(list: readonly SignalPanel[], filter: string, database: string | undefined): Panel[] {
  return list.map((p, i) => sqlPanel(p, i, p.sql.replaceAll('{filter}', filter).replace(/\{db\}\.(\w+)/g, (_, table: string) => tableRef(database, table))));
}

function queryVariable(name: string, label: string, sql: string) {
  return { name, label, type: 'query' as const, datasource: DATASOURCE, query: sql, refresh: 2, multi: true, includeAll: true, current: { text: 'All', value: '$__all' } };
}

function dashboard(uid: string, title: string, templating: Dashboard['templating'], panels: Panel[]): Dashboard {
  return { uid, title, tags: ['automagik-telemetry'], schemaVersion: 39, version: 1, editable: true, time: { from: 'now-6h', to: 'now' }, refresh: '30s', templating, panels };
}

export function logsDashboard(database?: string): Dashboard {
  const severities = [
    ['all', '0'],
    ['info and above', '9'],
    ['warn and above', '13'],
    ['error and above', '17'],
  ] as const;
  return dashboard(
    'automagik-logs',
    'Automagik Telemetry Logs',
    {
      list: [
        queryVariable('project', 'Project', `SELECT DISTINCT project_name FROM ${tableRef(database, 'logs')} WHERE $__timeFilter(timestamp) ORDER BY project_name`),
        queryVariable('service', 'Service', `SELECT DISTINCT service_name FROM ${tableRef(database, 'logs')} WHERE $__timeFilter(timestamp) ORDER BY service_name`),
        {
          name: 'min_severity',
          label: 'Severity',
          type: 'custom',
          query: severities.map(([text, value]) => `${text} : ${value}`).join(','),
          options: severities.map(([text, value], i) => ({ text, value, selected: i === 0 })),
          current: { text: 'all', value: '0' },
        },
      ],
    },
    panelsFor(LOG_PANELS, LOG_FILTER, database),
  );
}

export function metricsDashboard(database?: string): Dashboard {
  return dashboard(
    'automagik-metrics',
    'Automagik Telemetry Metrics',
    {
      list: [
        queryVariable('project', 'Project', `SELECT DISTINCT project_name FROM ${tableRef(database, 'metrics')} WHERE $__timeFilter(timestamp) ORDER BY project_name`),
        queryVariable('metric', 'Metric', `SELECT DISTINCT metric_name FROM ${tableRef(database, 'metrics')} WHERE $__timeFilter(timestamp) ORDER BY metric_name`),
      ],
    },
    panelsFor(METRIC_PANELS, METRIC_FILTER, database),
  );
}
