// Owns the one-process-per-data-directory rule: an exclusive lock file holding the owner's pid.

import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TelemetryError } from '../../errors.js';
import { isAlive } from '../run-state.js';

export { isAlive } from '../run-state.js';

export interface DataLock {
  release(): Promise<void>;
}

/** Takes the lock, or throws E_DATA_DIR_LOCKED naming the live process that holds it. A stale lock is taken over. */
export async function lockDataDir(lockFile: string, dataDir: string): Promise<DataLock> {
  await mkdir(dirname(lockFile), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockFile, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return { release: () => rm(lockFile, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new TelemetryError('E_DATA_DIR_LOCKED', `the data directory ${dataDir} is in use by process ${holder}`, {
          hint: 'Only one embedded engine can use a data directory. Stop it with `automagik-telemetry stop`, or use another --home.',
          details: { pid: holder },
        });
      }
      await rm(lockFile, { force: true });
    }
  }
  throw new TelemetryError('E_DATA_DIR_LOCKED', `could not lock the data directory ${dataDir}`);
}
