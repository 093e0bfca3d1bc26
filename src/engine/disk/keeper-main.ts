// Owns the entry point of the Docker stack's keeper process (see keeper.ts): config from argv, a pass every
// DISK_CHECK_SECONDS, one JSON log line a record, until SIGTERM or the stack's state file is gone.

import { writeFileSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { loadConfig, type ConfigFlags } from '../../config/index.js';
import { keepOnce, keeperPidFile } from './keeper.js';

async function main(): Promise<void> {
  const config = await loadConfig({ flags: JSON.parse(process.argv[2] ?? '{}') as ConfigFlags });
  writeFileSync(keeperPidFile(config), `${process.pid}\n`);
  const log = (fields: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...fields })}\n`);
  log({ level: 'info', msg: 'disk keeper', capMb: config.disk.maxDiskMb ?? 0, everySeconds: config.disk.checkSeconds });
  let stopping = false;
  process.on('SIGTERM', () => (stopping = true));
  process.on('SIGINT', () => (stopping = true));
  while (!stopping) {
    // The stack was stopped (its state file removed) without stopping the keeper: nothing left to keep.
    if (!(await access(config.paths.stateFile).then(() => true, () => false))) break;
    await keepOnce(config, log).catch((error: unknown) => log({ level: 'warn', msg: 'disk check failed', error: String((error as Error)?.message ?? error) }));
    for (let waited = 0; waited < config.disk.checkSeconds * 1000 && !stopping; waited += 250) await new Promise((r) => setTimeout(r, 250));
  }
  log({ level: 'info', msg: 'disk keeper stopped' });
}

process.stdout.on('error', () => undefined);
main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'disk keeper failed', error: String((error as Error)?.message ?? error) })}\n`);
    process.exit(1);
  },
);
