// Owns the built-in dashboard's data: every panel's rows for a time range and project, through src/query's client.

import { queryRows, type ClickHouseConnection } from '../clickhouse/http-client.js';
import { toClickHouseTime } from '../query/time.js';
import { boundSql, PANELS, stepFor, type PanelKind } from './panels.js';

export const RANGES: Record<string, number> = { '15m': 15 * 60_000, '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000 };

export interface PanelData {
  id: string;
  title: string;
  kind: PanelKind;
  unit: string | undefined;
  rows: Array<Record<string, unknown>>;
}

export interface DashboardData {
  range: string;
  from: string;
  to: string;
  step: number;
  project: string;
  /** Whether the store holds any event at all (for the empty state). */
  hasData: boolean;
  panels: PanelData[];
}

export async function dashboardData(connection: ClickHouseConnection, database: string, range: string, project: string, now = Date.now()): Promise<DashboardData> {
  const span = RANGES[range] ?? (RANGES['1h'] as number);
  const from = toClickHouseTime(new Date(now - span));
  const to = toClickHouseTime(new Date(now));
  const step = stepFor(span);
  const params = { from, to, project, step };
  const panels = await Promise.all(
    PANELS.map(async (p) => ({ id: p.id, title: p.title, kind: p.kind, unit: p.unit, rows: await queryRows<Record<string, unknown>>(connection, boundSql(p, database), params) })),
  );
  const [any] = await queryRows<{ n: number }>(connection, `SELECT count() AS n FROM (SELECT 1 FROM ${database}.traces LIMIT 1)`);
  return { range: RANGES[range] ? range : '1h', from, to, step, project, hasData: (any?.n ?? 0) > 0, panels };
}

export async function projectList(connection: ClickHouseConnection, database: string): Promise<string[]> {
  const rows = await queryRows<{ p: string }>(connection, `SELECT DISTINCT project_name AS p FROM ${database}.traces ORDER BY p LIMIT 500`);
  return rows.map((r) => r.p);
}
