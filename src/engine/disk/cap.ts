// Owns the size cap's decision and its statements: measure the database's partitions, drop the oldest whole day
// partitions of the raw tables until the data fits, and delete the rollup hours of the days dropped.

import { ROLLUPS } from '../../schema/rollups.js';

/**
 * The raw tables the cap drops from (partitioned by day, toYYYYMMDD), in the order ties go, each with the state table
 * of the rollup built from it (schema/rollups.ts), if any.
 */
export const CAPPED_TABLES: Readonly<Record<string, string | undefined>> = Object.freeze(
  Object.fromEntries(['traces', 'logs', 'metrics'].map((table) => [table, ROLLUPS.find((r) => r.raw === table)?.state])),
);

export interface PartitionSize {
  table: string;
  /** The partition's id: YYYYMMDD for the raw tables. */
  partition: string;
  rows: number;
  bytes: number;
}

export interface CapPlan {
  /** Bytes of every active part in the database (raw tables, rollups, schema versions). */
  totalBytes: number;
  /** Oldest first. */
  drops: PartitionSize[];
  /** Bytes left once the drops are done. */
  afterBytes: number;
  /** Set when what is left is still over the cap: only the newest day is left, and it is never dropped. */
  stillOver: boolean;
}

/** What talks to the store: rows of a SELECT, and a statement that returns nothing. */
export interface CapSql {
  rows<T>(sql: string): Promise<T[]>;
  exec(sql: string): Promise<void>;
}

/**
 * Which partitions to drop so that the data fits in `capBytes`: the oldest day first across the raw tables (ties in
 * the order traces, logs, metrics). The newest data is never dropped: no partition of today (UTC) or later, nor of
 * the newest day stored when nothing came today, so new data keeps landing and stays.
 */
export function planDrops(partitions: readonly PartitionSize[], capBytes: number, today: string): CapPlan {
  const totalBytes = partitions.reduce((n, p) => n + p.bytes, 0);
  const order = Object.keys(CAPPED_TABLES);
  const raw = partitions.filter((p) => p.table in CAPPED_TABLES && /^\d{8}$/.test(p.partition));
  const newest = raw.reduce((max, p) => (p.partition > max ? p.partition : max), '');
  const keepFrom = newest !== '' && newest < today ? newest : today;
  const candidates = raw
    .filter((p) => p.partition < keepFrom)
    .sort((a, b) => a.partition.localeCompare(b.partition) || order.indexOf(a.table) - order.indexOf(b.table));
  const drops: PartitionSize[] = [];
  let left = totalBytes;
  for (const candidate of candidates) {
    if (left <= capBytes) break;
    drops.push(candidate);
    left -= candidate.bytes;
  }
  return { totalBytes, drops, afterBytes: left, stillOver: left > capBytes };
}

/** Today's partition id in UTC, as toYYYYMMDD writes it. */
export function partitionOfDay(date: Date): string {
  return date.toISOString().slice(0, 10).replace(/-/g, '');
}

/** The active parts of `database`, summed per table and partition. */
export function measurePartitions(sql: CapSql, database: string): Promise<PartitionSize[]> {
  return sql
    .rows<{ table: string; partition: string; rows: string | number; bytes: string | number }>(
      `SELECT table, partition_id AS partition, sum(rows) AS rows, sum(bytes_on_disk) AS bytes FROM system.parts ` +
        `WHERE database = ${literal(database)} AND active GROUP BY table, partition_id`,
    )
    .then((rows) => rows.map((r) => ({ table: r.table, partition: r.partition, rows: Number(r.rows), bytes: Number(r.bytes) })));
}

/**
 * Drops one partition, then the rollup rows of its day (a small synchronous mutation: the rollups follow their raw
 * data, so a rollup never counts rows the store no longer holds).
 */
export async function dropPartition(sql: CapSql, database: string, drop: PartitionSize, tables: ReadonlySet<string>): Promise<void> {
  await sql.exec(`ALTER TABLE ${database}.${drop.table} DROP PARTITION ID ${literal(drop.partition)}`);
  const rollup = CAPPED_TABLES[drop.table];
  if (rollup !== undefined && tables.has(rollup)) {
    await sql.exec(`ALTER TABLE ${database}.${rollup} DELETE WHERE toYYYYMMDD(hour) = ${Number(drop.partition)} SETTINGS mutations_sync = 1`);
  }
}

/** The tables that exist in `database` (a rollup may be renamed or missing in an older schema). */
export async function tablesOf(sql: CapSql, database: string): Promise<Set<string>> {
  const rows = await sql.rows<{ name: string }>(`SELECT name FROM system.tables WHERE database = ${literal(database)}`);
  return new Set(rows.map((r) => r.name));
}

function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export interface CapOutcome {
  plan: CapPlan;
  /** The partitions dropped, in order (all of plan.drops unless one failed, which then throws). */
  dropped: PartitionSize[];
}

/**
 * One pass of the cap over `database`: measure, drop what the plan says, oldest first. `onDrop` hears of each drop as
 * it is done (so that a failure midway still leaves the drops before it counted). capBytes 0 means no cap.
 */
export async function enforceCap(sql: CapSql, database: string, capBytes: number, now: Date, onDrop: (drop: PartitionSize) => void = () => undefined): Promise<CapOutcome> {
  const plan = planDrops(await measurePartitions(sql, database), capBytes > 0 ? capBytes : Number.POSITIVE_INFINITY, partitionOfDay(now));
  const dropped: PartitionSize[] = [];
  if (plan.drops.length > 0) {
    const tables = await tablesOf(sql, database);
    for (const drop of plan.drops) {
      await dropPartition(sql, database, drop, tables);
      dropped.push(drop);
      onDrop(drop);
    }
  }
  return { plan, dropped };
}

/** The words for data still over the cap once every older day is gone (the newest day is kept). */
export function overCapWords(plan: CapPlan, capBytes: number): string | undefined {
  if (!plan.stillOver || capBytes <= 0) return undefined;
  const mib = (n: number) => Math.round(n / (1024 * 1024));
  return `the newest day alone holds ${mib(plan.afterBytes)} MiB, over the ${mib(capBytes)} MiB cap; it is kept`;
}
