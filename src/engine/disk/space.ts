// Owns measuring the filesystem that holds the data (free and total bytes) and the default size cap drawn from it.

import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DEFAULTS } from '../../config/defaults.js';
import type { Config } from '../../config/index.js';

export interface FilesystemSpace {
  /** Bytes an unprivileged writer can still use (statfs bavail). */
  freeBytes: number;
  totalBytes: number;
}

const MIB = 1024 * 1024;

/**
 * Free and total bytes of the filesystem that holds (or will hold) `dir`: its nearest existing folder is measured,
 * so that status and a first start can tell before the folder exists, without creating it.
 */
export async function filesystemSpace(dir: string): Promise<FilesystemSpace> {
  for (let at = dir; ; at = dirname(at)) {
    try {
      const s = await statfs(at);
      return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
    } catch (error) {
      if (dirname(at) === at || (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/**
 * The cap when none is set: a tenth of the free space, at most 10 GiB, at least 1 MiB. A share of what is free (not
 * of the disk) so a nearly full laptop gets a small store rather than the last of its space.
 */
export function defaultCapMb(freeBytes: number): number {
  const share = Math.floor((freeBytes * DEFAULTS.maxDiskShareOfFree) / MIB);
  return Math.max(1, Math.min(DEFAULTS.maxDiskDefaultCeilingMb, share));
}

/** The words status shows for a default cap. */
export function defaultCapSource(freeBytes: number): string {
  return `default: ${Math.round(DEFAULTS.maxDiskShareOfFree * 100)}% of the ${Math.round(freeBytes / MIB)} MiB free at the first start, at most ${DEFAULTS.maxDiskDefaultCeilingMb / 1024} GiB`;
}

/** `config` with a size cap: its own, else the default drawn from the free space now (start remembers it). */
export async function withDiskCap(config: Config): Promise<Config> {
  if (config.disk.maxDiskMb !== undefined) return config;
  const { freeBytes } = await filesystemSpace(config.paths.dataDir);
  return Object.freeze({ ...config, disk: Object.freeze({ ...config.disk, maxDiskMb: defaultCapMb(freeBytes), maxDiskSource: defaultCapSource(freeBytes) }) });
}
