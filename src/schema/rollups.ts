// Owns the hourly rollups as data derived from the raw rows: what each aggregates, how to compare it with the raw
// rows hour by hour, and how to rebuild the hours that differ. Both engines use it; the embedded engine's keeper
// (engine/embedded/rollup-keeper.ts) also advances the watermark with it.

import type { SqlRunner } from './index.js';

export interface RollupSpec {
  /** The view people query, and the name the watermark is kept under. */
  name: 'metrics_hourly' | 'metric_points_hourly';
  /** The raw table the rollup is computed from. */
  raw: 'traces' | 'metrics';
  /** The table of aggregate states. */
  state: string;
  /** The materialized view that fed the state table on every insert (the Docker stack keeps it). */
  materializedView: string;
  /** Group keys besides the hour, in the state table's column order. */
  keys: readonly string[];
  /** The aggregates, in the state table's column order after the keys. */
  aggregates: string;
  /** The state column that counts raw rows. */
  countColumn: string;
}

export const ROLLUPS: readonly RollupSpec[] = [
  {
    name: 'metrics_hourly',
    raw: 'traces',
    state: 'metrics_hourly_state',
    materializedView: 'metrics_hourly_mv',
    keys: ['project_name'],
    aggregates: `count(), countIf(status_code = 'ERROR'), quantilesState(0.5, 0.95, 0.99)(duration_ms)`,
    countColumn: 'total_count',
  },
  {
    name: 'metric_points_hourly',
    raw: 'metrics',
    state: 'metric_points_hourly_state',
    materializedView: 'metric_points_hourly_mv',
    keys: ['project_name', 'metric_name', 'metric_type', 'unit'],
    aggregates: 'count(), sum(value), min(value), max(value), argMaxState(value, timestamp), sum(count), sum(sum)',
    countColumn: 'points',
  },
];

/** A time ClickHouse reads as DateTime64(3, 'UTC'): 'YYYY-MM-DD hh:mm:ss.mmm'. */
export type ChTime = string;

/** The rows of `spec.raw` a rollup covers: inserted after `after` (exclusive) up to `upTo` (inclusive). */
export function insertedBetween(after: ChTime | undefined, upTo: ChTime | undefined): string {
  const parts = [
    ...(after !== undefined ? [`inserted_at > toDateTime64('${after}', 3, 'UTC')`] : []),
    ...(upTo !== undefined ? [`inserted_at <= toDateTime64('${upTo}', 3, 'UTC')`] : []),
  ];
  return parts.length > 0 ? parts.join(' AND ') : '1';
}

/** INSERT … SELECT that adds the aggregate states of the raw rows matching `where` to the state table. */
export function rollupInsert(database: string, spec: RollupSpec, where: string): string {
  const keys = spec.keys.join(', ');
  return `INSERT INTO ${database}.${spec.state} SELECT toStartOfHour(timestamp) AS hour, ${keys}, ${spec.aggregates} FROM ${database}.${spec.raw} WHERE ${where} GROUP BY hour, ${keys}`;
}

/** The watermark of a rollup (the embedded engine's), or undefined when none is kept (the Docker stack). */
export async function readWatermark(runner: SqlRunner, database: string, spec: RollupSpec): Promise<ChTime | undefined> {
  const text = (
    await runner.run(
      `SELECT if(count() = 0, '', toString(max(watermark))) FROM ${database}.rollup_watermarks WHERE rollup = '${spec.name}' FORMAT TabSeparated`,
    )
  ).trim();
  return text === '' ? undefined : text;
}

export function writeWatermark(runner: SqlRunner, database: string, spec: RollupSpec, watermark: ChTime): Promise<string> {
  return runner.run(`INSERT INTO ${database}.rollup_watermarks (rollup, watermark) VALUES ('${spec.name}', toDateTime64('${watermark}', 3, 'UTC'))`);
}

export interface HourDifference {
  hour: string;
  /** Raw rows in the hour (up to the watermark). */
  raw: number;
  /** Rows the rollup counts for the hour. */
  rolledUp: number;
}

/**
 * The hours whose rollup does not count what the raw rows give (per hour and group key), up to the watermark when
 * there is one. Reads every raw row's hour and keys once: seconds on hundreds of millions of rows.
 */
export async function rollupDifferences(runner: SqlRunner, database: string, spec: RollupSpec, watermark: ChTime | undefined): Promise<HourDifference[]> {
  const keys = spec.keys.join(', ');
  const text = await runner.run(
    `SELECT toString(hour), sum(raw), sum(rolled) FROM (
       SELECT hour, ${keys}, sum(raw) AS raw, sum(rolled) AS rolled FROM (
         SELECT toStartOfHour(timestamp) AS hour, ${keys}, toInt64(count()) AS raw, toInt64(0) AS rolled
         FROM ${database}.${spec.raw} WHERE ${insertedBetween(undefined, watermark)} GROUP BY hour, ${keys}
         UNION ALL
         SELECT hour, ${keys}, toInt64(0) AS raw, toInt64(sum(${spec.countColumn})) AS rolled
         FROM ${database}.${spec.state} GROUP BY hour, ${keys})
       GROUP BY hour, ${keys} HAVING raw != rolled)
     GROUP BY hour ORDER BY hour FORMAT TabSeparated`,
  );
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [hour, raw, rolled] = line.split('\t') as [string, string, string];
      return { hour, raw: Number(raw), rolledUp: Number(rolled) };
    });
}

/** Replaces the rollup of `hours` with the states of their raw rows (up to the watermark when there is one). */
export async function rebuildHours(runner: SqlRunner, database: string, spec: RollupSpec, hours: readonly string[], watermark: ChTime | undefined): Promise<void> {
  for (let i = 0; i < hours.length; i += 500) {
    const list = hours
      .slice(i, i + 500)
      .map((h) => `toDateTime('${h.replace(/[^0-9: -]/g, '')}', 'UTC')`)
      .join(', ');
    await runner.run(`DELETE FROM ${database}.${spec.state} WHERE hour IN (${list})`);
    await runner.run(rollupInsert(database, spec, `toStartOfHour(timestamp) IN (${list}) AND ${insertedBetween(undefined, watermark)}`));
  }
}

/** Rebuilds the named rollup's `hours` from the raw rows, as the engine keeps it (after deletes, restores). */
export async function rebuildRollupHours(runner: SqlRunner, database: string, name: RollupSpec['name'], hours: readonly string[]): Promise<void> {
  const spec = ROLLUPS.find((r) => r.name === name) as RollupSpec;
  if (hours.length === 0) return;
  await rebuildHours(runner, database, spec, hours, await readWatermark(runner, database, spec));
}

/** The hours (as 'YYYY-MM-DD hh:00:00') that the rows of `table` matching `where` fall in. */
export async function hoursOf(runner: SqlRunner, table: string, where = '1'): Promise<string[]> {
  const text = await runner.run(`SELECT DISTINCT toString(toStartOfHour(timestamp)) FROM ${table} WHERE ${where} ORDER BY 1 FORMAT TabSeparated`);
  return text.split('\n').filter((line) => line !== '');
}

export interface RollupRepair {
  rollup: RollupSpec['name'];
  /** Hours whose rollup differed from the raw rows, now rebuilt. */
  rebuilt: HourDifference[];
}

/** Compares every rollup with its raw rows and rebuilds the hours that differ. */
export async function repairRollups(runner: SqlRunner, database: string): Promise<RollupRepair[]> {
  const out: RollupRepair[] = [];
  for (const spec of ROLLUPS) {
    const watermark = await readWatermark(runner, database, spec);
    const differences = await rollupDifferences(runner, database, spec, watermark);
    if (differences.length > 0) await rebuildHours(runner, database, spec, differences.map((d) => d.hour), watermark);
    out.push({ rollup: spec.name, rebuilt: differences });
  }
  return out;
}
