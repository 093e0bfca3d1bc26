// Owns the entry point of the detached engine process that `start` spawns: config from argv, logs to stdout (the log file).

import { loadConfig, type ConfigFlags } from '../../config/index.js';
import { hostEngine, jsonLineLogger } from './process.js';

async function main(): Promise<void> {
  const flags = JSON.parse(process.argv[2] ?? '{}') as ConfigFlags;
  const config = await loadConfig({ flags });
  const log = jsonLineLogger((line) => process.stdout.write(line));
  log({ level: 'info', msg: 'starting embedded engine', pid: process.pid, home: config.home });
  const hosted = await hostEngine(config, log);
  await hosted.stopped;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'engine failed', error: String((error as Error)?.message ?? error) })}\n`);
    process.exit(1);
  },
);
