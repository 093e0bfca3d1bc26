// Owns the size cap for the Docker stack: ClickHouse has no per-table size limit (TTLs go by time only), so `start`
// runs a small detached process, the keeper, that applies the same cap as the embedded engine over ClickHouse HTTP
// as the admin role every DISK_CHECK_SECONDS; `stop` ends it. Its pid is <home>/run/disk-keeper.pid.

import { spawn } from 'node:child_process';
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { connectionFor, type ClickHouseConnection } from '../../clickhouse/connection.js';
import { queryRows, runStatement } from '../../clickhouse/http-client.js';
import type { Config } from '../../config/index.js';
import { packageRoot } from '../../paths.js';
import { enforceCap, overCapWords, type CapSql } from './cap.js';
import { readLedger, recordDrop, writeLedger, type DiskLedger } from './ledger.js';

const MIB = 1024 * 1024;

export function keeperPidFile(config: Config): string {
  return join(config.paths.runDir, 'disk-keeper.pid');
}

/** What the cap runs over ClickHouse HTTP. */
export function httpCapSql(connection: ClickHouseConnection): CapSql {
  return {
    rows: (sql) => queryRows(connection, sql),
    exec: async (sql) => {
      await runStatement(connection, sql);
    },
  };
}

/**
 * One pass of the cap over HTTP, recorded in <home>/run/disk.json as the embedded engine records its own (status
 * reads it the same way). Returns the ledger written.
 */
export async function keepOnce(config: Config, log: (fields: Record<string, unknown>) => void, now = new Date()): Promise<DiskLedger> {
  const capBytes = Math.round((config.disk.maxDiskMb ?? 0) * MIB);
  const previous = await readLedger(config.paths.runDir);
  let ledger: DiskLedger = previous ?? { capBytes, dataBytes: 0, checkedAt: now.toISOString(), dropped: { partitions: 0, rows: 0, bytes: 0 }, recent: [] };
  try {
    const { plan } = await enforceCap(httpCapSql(connectionFor(config, 'admin', 60_000)), config.database, capBytes, now, (drop) => {
      ledger = recordDrop(ledger, drop);
      log({ level: 'warn', msg: 'size cap: dropped the oldest partition', table: drop.table, partition: drop.partition, rows: drop.rows, bytes: drop.bytes, capBytes });
    });
    const overCap = overCapWords(plan, capBytes);
    ledger = { ...ledger, capBytes, dataBytes: plan.afterBytes, checkedAt: new Date().toISOString() };
    if (overCap) ledger.overCap = overCap;
    else delete ledger.overCap;
  } finally {
    await writeLedger(config.paths.runDir, ledger);
  }
  return ledger;
}

/** Starts the keeper for this home unless one runs; it resolves the same configuration from these settings. */
export async function startKeeper(config: Config): Promise<number | undefined> {
  if ((await runningKeeper(config)) !== undefined) return undefined;
  const log = await open(join(config.paths.runDir, 'disk-keeper.log'), 'a', 0o600);
  const entry = join(packageRoot(), 'dist', 'src', 'engine', 'disk', 'keeper-main.js');
  const disk = config.disk.maxDiskMb === undefined ? {} : { maxDiskMb: config.disk.maxDiskMb, maxDiskSource: config.disk.maxDiskSource };
  const flags = { home: config.home, engine: 'docker', host: config.host, clickhousePort: config.ports.clickhouse, database: config.database, auth: config.auth.required, ...disk };
  const child = spawn(process.execPath, [entry, JSON.stringify(flags)], { detached: true, stdio: ['ignore', log.fd, log.fd] });
  await log.close();
  child.unref();
  return child.pid;
}

/** Ends the keeper of this home, if one runs. */
export async function stopKeeper(config: Config): Promise<void> {
  const pid = await runningKeeper(config);
  if (pid !== undefined) process.kill(pid, 'SIGTERM');
  await rm(keeperPidFile(config), { force: true });
}

async function runningKeeper(config: Config): Promise<number | undefined> {
  const pid = Number((await readFile(keeperPidFile(config), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}
