// Owns <home>/run/disk.json: what the embedded engine's disk watch last measured, what the cap dropped (counted
// across restarts), and the last write failure for lack of space; status and health read it.

import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface DroppedPartition {
  at: string;
  table: string;
  partition: string;
  rows: number;
  bytes: number;
}

export interface DiskLedger {
  /** The cap in force, bytes (0: none). */
  capBytes: number;
  /** Bytes of the database's active parts at the last check. */
  dataBytes: number;
  checkedAt: string;
  dropped: { partitions: number; rows: number; bytes: number };
  /** The last few partitions dropped, newest last. */
  recent: DroppedPartition[];
  /** Set when only the newest day is left and it alone passes the cap. */
  overCap?: string;
  /** The last write the store refused for lack of space, and the last write that succeeded (ISO-8601). */
  lastSpaceFailure?: { at: string; code: number; message: string };
  lastWriteAt?: string;
}

export const RECENT_DROPS = 20;

export function ledgerPath(runDir: string): string {
  return join(runDir, 'disk.json');
}

/** The ledger with one more partition dropped (now). */
export function recordDrop(ledger: DiskLedger, drop: Omit<DroppedPartition, 'at'>): DiskLedger {
  const at = new Date().toISOString();
  return {
    ...ledger,
    dropped: { partitions: ledger.dropped.partitions + 1, rows: ledger.dropped.rows + drop.rows, bytes: ledger.dropped.bytes + drop.bytes },
    recent: [...ledger.recent, { at, table: drop.table, partition: drop.partition, rows: drop.rows, bytes: drop.bytes }].slice(-RECENT_DROPS),
  };
}

export async function readLedger(runDir: string): Promise<DiskLedger | undefined> {
  const text = await readFile(ledgerPath(runDir), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as DiskLedger;
    return typeof value.capBytes === 'number' && typeof value.dropped?.partitions === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Atomically; a full disk can refuse it, which only costs the record (the caller logs it). */
export async function writeLedger(runDir: string, ledger: DiskLedger): Promise<void> {
  const file = ledgerPath(runDir);
  await writeFile(`${file}.tmp`, `${JSON.stringify(ledger, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}
