// Owns the provisioned Grafana dashboard as a typed object (Grafana's own schema types), written to templates/.

import type { Dashboard, Panel } from '@grafana/schema';
import { exploreLinks } from './grafana-explore.js';
import { grafanaSql, PANELS, tableRef } from './panels.js';

export const DATASOURCE = { type: 'grafana-clickhouse-datasource', uid: 'automagik-clickhouse' };

/** One panel of a generated dashboard: a ClickHouse SQL query drawn as a time series, a stat, a table … */
export function sqlPanel(p: { kind: string; title: string; grid: Panel['gridPos']; unit?: string }, index: number, rawSql: string): Panel {
  return {
    id: index + 1,
    type: p.kind,
    title: p.title,
    datasource: DATASOURCE,
    gridPos: p.grid,
    ...(p.unit ? { fieldConfig: { defaults: { unit: p.unit }, overrides: [] } } : {}),
    targets: [
      {
        refId: 'A',
        datasource: DATASOURCE,
        editorType: 'sql',
        queryType: p.kind === 'timeseries' ? 'timeseries' : 'table',
        format: p.kind === 'timeseries' ? 0 : 1,
        rawSql,
      },
    ],
  };
}

export function overviewDashboard(database?: string): Dashboard {
  const panels: Panel[] = PANELS.map((p, i) => sqlPanel(p, i, grafanaSql(p, database)));
  const variable = (name: string, label: string, column: string) => ({
    name,
    label,
    type: 'query' as const,
    datasource: DATASOURCE,
    query: `SELECT DISTINCT ${column} FROM ${tableRef(database, 'traces')} WHERE $__timeFilter(timestamp) ORDER BY ${column}`,
    refresh: 2,
    multi: true,
    includeAll: true,
    current: { text: 'All', value: '$__all' },
  });
  return {
    uid: 'automagik-overview',
    title: 'Automagik Telemetry Overview',
    tags: ['automagik-telemetry'],
    schemaVersion: 39,
    version: 1,
    editable: true,
    time: { from: 'now-24h', to: 'now' },
    refresh: '30s',
    templating: { list: [variable('project', 'Project', 'project_name'), variable('environment', 'Environment', 'environment')] },
    links: exploreLinks(database, DATASOURCE),
    panels,
  };
}
