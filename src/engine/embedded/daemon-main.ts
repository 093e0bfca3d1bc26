// Owns the entry point of the detached engine process that `start` spawns: config from argv, logs to stdout (the log file).

import { writeSync } from 'node:fs';
import { loadConfig, type ConfigFlags } from '../../config/index.js';
import { hostEngine, jsonLineLogger } from './process.js';

async function main(): Promise<void> {
  const flags = JSON.parse(process.argv[2] ?? '{}') as ConfigFlags;
  const config = await loadConfig({ flags });
  const log = jsonLineLogger(logFileWriter());
  log({ level: 'info', msg: 'starting embedded engine', pid: process.pid, home: config.home });
  const hosted = await hostEngine(config, log);
  await hosted.stopped;
}

/**
 * Writes log lines to stdout (the log file) synchronously. A full disk refuses them: the engine must keep serving
 * (it answers 507/503 meanwhile), so the lines are counted as lost and the count is logged once space is back.
 */
function logFileWriter(): (line: string) => void {
  let lost = 0;
  return (line) => {
    try {
      if (lost > 0) {
        writeSync(1, `${JSON.stringify({ time: new Date().toISOString(), level: 'warn', msg: 'log lines lost while the disk was full', lines: lost })}\n`);
        lost = 0;
      }
      writeSync(1, line);
    } catch {
      lost++;
    }
  };
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'engine failed', error: String((error as Error)?.message ?? error) })}\n`);
    process.exit(1);
  },
);
