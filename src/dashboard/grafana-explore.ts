// Owns the Docker stack's ways into Grafana's Explore: the ClickHouse datasource's logs and traces defaults (which of
// our columns its log and trace query types read) and the overview's "Explore traces" / "Explore logs" links.

import { tableRef } from './panels.js';

/**
 * The datasource's `logs` and `traces` settings (jsonData) for our tables. Not the OTel layout (`otelEnabled: false`):
 * each of the columns the plugin's log and trace views need is named. The plugin reads these to build its log and
 * trace queries (column aliases `timestamp`/`body`/`level`; `traceID`, `spanID`, `parentSpanID`, `serviceName`,
 * `operationName`, `startTime`, `duration`, `tags`).
 */
export function signalDefaults(database: string) {
  return {
    logs: { defaultDatabase: database, defaultTable: 'logs', otelEnabled: false, timeColumn: 'timestamp', levelColumn: 'severity_text', messageColumn: 'body' },
    traces: {
      defaultDatabase: database,
      defaultTable: 'traces',
      otelEnabled: false,
      durationUnit: 'milliseconds',
      traceIdColumn: 'trace_id',
      spanIdColumn: 'span_id',
      operationNameColumn: 'span_name',
      parentSpanIdColumn: 'parent_span_id',
      serviceNameColumn: 'service_name',
      durationColumn: 'duration_ms',
      startTimeColumn: 'timestamp',
      tagsColumn: 'attributes',
    },
  };
}

/** The SQL behind each Explore link, in the shape Grafana's trace search and logs views read. */
export function exploreSql(database?: string): { traces: string; logs: string } {
  return {
    // One row per trace (its root span), newest first: Explore lists them, and the plugin links each traceID to its trace view.
    traces: `SELECT trace_id AS traceID, service_name AS serviceName, span_name AS operationName, toUnixTimestamp64Milli(timestamp) AS startTime, duration_ms AS duration
FROM ${tableRef(database, 'traces')} WHERE $__timeFilter(timestamp) AND parent_span_id = '' ORDER BY timestamp DESC LIMIT 1000`,
    // Time first, body second (the order Grafana's logs view expects), then level, trace id and the rest as fields.
    logs: `SELECT timestamp, body, severity_text AS level, trace_id AS traceID, service_name, project_name, environment, attributes
FROM ${tableRef(database, 'logs')} WHERE $__timeFilter(timestamp) ORDER BY timestamp DESC LIMIT 1000`,
  };
}

export interface DatasourceRef {
  type: string;
  uid: string;
}

/** A Grafana Explore URL (Grafana 10+ `panes` form) that runs `kind`'s SQL over the last hour. */
export function exploreUrl(kind: 'traces' | 'logs', database: string | undefined, datasource: DatasourceRef): string {
  const pane = {
    datasource: datasource.uid,
    queries: [{ refId: 'A', datasource, editorType: 'sql', queryType: kind, rawSql: exploreSql(database)[kind] }],
    range: { from: 'now-1h', to: 'now' },
  };
  return `/explore?schemaVersion=1&orgId=1&panes=${encodeURIComponent(JSON.stringify({ [kind]: pane }))}`;
}

/** The overview's links into Explore. */
export function exploreLinks(database: string | undefined, datasource: DatasourceRef) {
  return [
    { title: 'Explore traces', type: 'link' as const, url: exploreUrl('traces', database, datasource), icon: 'external link', tooltip: 'Trace search and trace view in Grafana Explore', asDropdown: false, includeVars: false, keepTime: false, tags: [], targetBlank: false },
    { title: 'Explore logs', type: 'link' as const, url: exploreUrl('logs', database, datasource), icon: 'external link', tooltip: 'Log records in Grafana Explore', asDropdown: false, includeVars: false, keepTime: false, tags: [], targetBlank: false },
  ];
}
