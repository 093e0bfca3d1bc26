// Owns checking that a running store still has every table and view its schema creates.

import { TelemetryError } from '../errors.js';
import { loadSchema } from './index.js';
import { ROLLUPS } from './rollups.js';

type Rows = (sql: string, params: Record<string, string>) => Promise<Array<{ name: string }>>;

/**
 * The tables and views the schema files create in `database` (their CREATE … IF NOT EXISTS names), less the rollups'
 * materialized views: the embedded engine keeps the rollups without them (schema/rollups.ts).
 */
export async function schemaTables(database: string): Promise<string[]> {
  const names = new Set<string>();
  const create = new RegExp(`^CREATE (?:(?:TABLE|VIEW|MATERIALIZED VIEW) IF NOT EXISTS|OR REPLACE VIEW) ${database}\\.(\\w+)`, 'i');
  for (const file of await loadSchema(database)) {
    for (const statement of file.statements) {
      const name = create.exec(statement)?.[1];
      if (name) names.add(name);
    }
  }
  for (const rollup of ROLLUPS) names.delete(rollup.materializedView);
  return [...names];
}

/** Resolves with a summary when every schema table exists; throws naming the missing ones and how to restore them. */
export async function checkSchemaTables(rows: Rows, database: string): Promise<string> {
  const expected = await schemaTables(database);
  const present = new Set((await rows('SELECT name FROM system.tables WHERE database = {db:String}', { db: database })).map((r) => r.name));
  const missing = expected.filter((name) => !present.has(name));
  if (missing.length > 0) {
    throw new TelemetryError('E_SCHEMA', `missing from ${database}: ${missing.join(', ')}`, {
      hint: 'Run `automagik-telemetry restart` (start applies the schema again) or `automagik-telemetry schema apply`.',
    });
  }
  return `${expected.length} tables and views present`;
}
