// Owns the disk as status and health tell it for the embedded engine: free space, the cap, what the cap dropped
// (from <home>/run/disk.json), a write probe, and the verdicts "little space left" and "the store cannot write".

import { open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../../config/index.js';
import type { DiskStatus, HealthCheck } from '../types.js';
import { readLedger, type DiskLedger } from './ledger.js';
import { filesystemSpace, type FilesystemSpace } from './space.js';

/** A refusal for lack of space counts as "cannot write" for this long after it, unless a write succeeded since. */
export const SPACE_FAILURE_WINDOW_MS = 60_000;
/** Health warns when less than this share of the filesystem is free. */
export const FREE_WARN_SHARE = 0.1;
/** The write probe: this many bytes written, synced and removed in the data folder. */
const PROBE_BYTES = 64 * 1024;
const MIB = 1024 * 1024;

/** The disk as status shows it; `measured` is the store's own free space when it is not the home's (Docker volumes). */
export async function diskStatus(config: Config, now = Date.now(), measured?: FilesystemSpace): Promise<DiskStatus> {
  const [space, ledger] = await Promise.all([measured ?? filesystemSpace(config.paths.dataDir), readLedger(config.paths.runDir)]);
  const capMb = config.disk.maxDiskMb;
  const last = ledger?.recent[ledger.recent.length - 1];
  const refused = cannotWrite(ledger, now);
  return {
    capBytes: ledger?.capBytes ?? Math.round((capMb ?? 0) * MIB),
    capSource: capMb === undefined ? 'the first start picks the default' : config.disk.maxDiskSource,
    ...(ledger ? { dataBytes: ledger.dataBytes, checkedAt: ledger.checkedAt } : {}),
    freeBytes: space.freeBytes,
    totalBytes: space.totalBytes,
    dropped: { ...(ledger?.dropped ?? { partitions: 0, rows: 0, bytes: 0 }), ...(last ? { last } : {}) },
    ...(ledger?.overCap ? { overCap: ledger.overCap } : {}),
    ...(refused ? { cannotWrite: refused } : {}),
  };
}

/** The last refusal for lack of space, when no write succeeded after it and it is recent. */
function cannotWrite(ledger: DiskLedger | undefined, now: number): { at: string; message: string } | undefined {
  const failure = ledger?.lastSpaceFailure;
  if (!failure) return undefined;
  if (ledger.lastWriteAt !== undefined && ledger.lastWriteAt > failure.at) return undefined;
  if (now - Date.parse(failure.at) > SPACE_FAILURE_WINDOW_MS) return undefined;
  return { at: failure.at, message: failure.message };
}

/** The two disk checks: space (warns when low) and write (fails when the store cannot write). */
export async function diskChecks(config: Config): Promise<HealthCheck[]> {
  const started = performance.now();
  const status = await diskStatus(config);
  const spaceCheck: HealthCheck = {
    name: 'disk.space',
    target: config.paths.dataDir,
    ok: true,
    latencyMs: Math.round(performance.now() - started),
    detail: `${mib(status.freeBytes)} free of ${mib(status.totalBytes)}; data ${status.dataBytes === undefined ? 'not measured yet' : mib(status.dataBytes)}, cap ${status.capBytes > 0 ? mib(status.capBytes) : 'none'}`,
  };
  const warning = spaceWarning(status);
  if (warning) spaceCheck.warning = warning;

  const probeStarted = performance.now();
  const probe = await writeProbe(config.paths.dataDir);
  const failed = probe === 'no data folder' ? undefined : probe ?? (status.cannotWrite ? `the store refused a write for lack of space ${Math.round((Date.now() - Date.parse(status.cannotWrite.at)) / 1000)} s ago: ${status.cannotWrite.message}` : undefined);
  const writeCheck: HealthCheck = {
    name: 'disk.write',
    target: config.paths.dataDir,
    ok: failed === undefined,
    latencyMs: Math.round(performance.now() - probeStarted),
    detail:
      failed ??
      (probe === 'no data folder' ? `no data folder yet (${config.paths.dataDir})` : `a ${PROBE_BYTES / 1024} KiB write succeeded${status.dropped.partitions > 0 ? `; the cap dropped ${status.dropped.partitions} partition(s) so far` : ''}`),
  };
  return [spaceCheck, writeCheck];
}

/** Why the space wants attention: little free, or less free than the cap still lets the data grow (the disk fills first). */
export function spaceWarning(status: Pick<DiskStatus, 'freeBytes' | 'totalBytes' | 'capBytes' | 'dataBytes'>): string | undefined {
  if (status.totalBytes > 0 && status.freeBytes < status.totalBytes * FREE_WARN_SHARE) {
    return `only ${mib(status.freeBytes)} free (under ${FREE_WARN_SHARE * 100}% of ${mib(status.totalBytes)}): writes fail when it runs out`;
  }
  if (status.capBytes > 0 && status.dataBytes !== undefined && status.freeBytes < status.capBytes - status.dataBytes) {
    return `the disk fills before the cap: ${mib(status.freeBytes)} free, the cap allows ${mib(status.capBytes - status.dataBytes)} more; lower it with --max-disk-mb`;
  }
  return undefined;
}

/** undefined when a small file can be written and synced next to the data; 'no data folder' before the first start; else why not. */
async function writeProbe(dir: string): Promise<string | undefined> {
  // Never started: nothing to probe; the other checks say the stack does not run.
  if (!(await stat(dir).then((s) => s.isDirectory(), () => false))) return 'no data folder';
  const file = join(dir, `.write-probe-${process.pid}`);
  try {
    const handle = await open(file, 'w');
    try {
      await handle.write(Buffer.alloc(PROBE_BYTES));
      await handle.sync();
    } finally {
      await handle.close();
    }
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOSPC' ? `the store cannot write: no space left on the device holding ${dir}` : `the store cannot write to ${dir}: ${code ?? (error as Error).message}`;
  } finally {
    await rm(file, { force: true });
  }
}

function mib(bytes: number): string {
  if (bytes >= 10 * 1024 * MIB) return `${(bytes / (1024 * MIB)).toFixed(1)} GiB`;
  return `${(bytes / MIB).toFixed(bytes < 10 * MIB ? 1 : 0)} MiB`;
}
