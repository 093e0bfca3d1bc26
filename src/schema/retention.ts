// Owns the stack's retention: the TTL of every table, in days, written into the schema's DDL and changed in place.

import { TelemetryError } from '../errors.js';
import type { SqlRunner } from './index.js';

/** A TTL clause's `<expression> + INTERVAL <n> DAY` as the schema files write it. */
const DDL_TTL = /(\bTTL\s+[^;]*?\+\s*INTERVAL\s+)\d+(\s+DAY\b)/g;

/** The same clause as ClickHouse shows it in system.tables.create_table_query: `TTL <expression> + toIntervalDay(<n>)`. */
const STORED_TTL = /\sTTL\s+(.+?)\s+\+\s+toIntervalDay\((\d+)\)(?=\s+SETTINGS\s|\s*$)/;

/** DDL with every table's TTL set to `days` (statements without a TTL pass unchanged). */
export function withRetention(sql: string, days: number): string {
  return sql.replace(DDL_TTL, `$1${days}$2`);
}

/** A runner that writes `days` into the TTL of every table it creates (for applySchema and the route). */
export function retentionRunner(runner: SqlRunner, days: number): SqlRunner {
  return { run: (sql) => runner.run(withRetention(sql, days)) };
}

export interface TableRetention {
  table: string;
  /** The expression the TTL adds days to, as ClickHouse stores it (e.g. toDateTime(timestamp)). */
  expression: string;
  days: number;
}

/** The TTL in days of each table of `database` that has a plain `<expr> + N days` TTL, read from system.tables. */
export async function readRetention(runner: SqlRunner, database: string): Promise<TableRetention[]> {
  const text = await runner.run(
    `SELECT name, create_table_query FROM system.tables WHERE database = '${database}' AND engine LIKE '%MergeTree' ORDER BY name FORMAT JSONEachRow`,
  );
  const out: TableRetention[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const row = JSON.parse(line) as { name: string; create_table_query: string };
    const ttl = STORED_TTL.exec(row.create_table_query);
    if (ttl) out.push({ table: row.name, expression: ttl[1] as string, days: Number(ttl[2]) });
  }
  return out;
}

export interface RetentionChange {
  table: string;
  from: number;
  to: number;
}

/**
 * Sets the TTL of every table of `database` whose retention is not `days` (`ALTER TABLE … MODIFY TTL`, which also drops
 * the rows now older than that as parts merge). With `cluster`, the ALTER runs ON CLUSTER. Returns what changed.
 */
export async function applyRetention(runner: SqlRunner, database: string, days: number, cluster?: string): Promise<RetentionChange[]> {
  const changes: RetentionChange[] = [];
  for (const table of await readRetention(runner, database)) {
    if (table.days === days) continue;
    const on = cluster === undefined ? '' : ` ON CLUSTER ${cluster}`;
    try {
      await runner.run(`ALTER TABLE ${database}.${table.table}${on} MODIFY TTL ${table.expression} + INTERVAL ${days} DAY`);
    } catch (error) {
      throw new TelemetryError('E_SCHEMA', `cannot set the retention of ${database}.${table.table} to ${days} days: ${(error as Error).message}`, {
        cause: error,
        details: { table: table.table, days },
      });
    }
    changes.push({ table: table.table, from: table.days, to: days });
  }
  return changes;
}

/** What `status` shows: the configured retention and the one the store's tables have (undefined before any table exists). */
export async function retentionStatus(runner: SqlRunner, database: string, configured: number): Promise<{ days: number; tables: number | undefined }> {
  const tables = await readRetention(runner, database).catch(() => []);
  const traces = tables.find((t) => t.table === 'traces' || t.table === 'traces_local') ?? tables[0];
  return { days: configured, tables: traces?.days };
}
