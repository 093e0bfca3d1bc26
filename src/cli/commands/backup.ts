// Owns `backup` (every event to a checksummed file) and `restore` (a backup back into the stack).

import type { Command } from 'commander';
import { restoreBackup, writeBackup } from '../../query/backup.js';
import { EXIT } from '../errors.js';
import { fileToRead, fileToWrite } from '../files.js';
import { stackCommand, type Cli, type Stack } from '../stack.js';
import { confirm } from '../ui.js';

export function register(program: Command, cli: Cli): void {
  stackCommand(
    cli,
    program
      .command('backup')
      .description('write every event to a portable, checksummed backup file (gzip; schema + JSONEachRow rows)')
      .option('-o, --out <file>', 'where to write it (default: automagik-telemetry-<date>.backup.gz here)')
      .option('--json', 'print the result as JSON'),
    backup,
  );
  stackCommand(
    cli,
    program
      .command('restore <file>')
      .description('load a backup into the stack; refuses rows already there unless --replace (which replaces all data, after asking)')
      .option('--replace', "empty the store first: the backup's data replaces what is there")
      .option('-y, --yes', 'with --replace: do not ask (needed without a terminal)')
      .option('--json', 'print the result as JSON'),
    restore,
  );
}

export async function backup(stack: Stack, options: { out?: string; json?: boolean }): Promise<number> {
  const { ui, config } = stack;
  const file = await fileToWrite(options.out ?? `automagik-telemetry-${new Date().toISOString().replace(/[:.]/g, '-')}.backup.gz`, 'the backup to write, from -o');
  const progress = options.json ? undefined : ui.progress(`writing ${file}`);
  const result = await writeBackup(stack.connection('admin', 600_000), config.database, file, (rows) => progress?.update(`writing ${file}: ${rows} rows`)).catch((error: unknown) => {
    progress?.fail('backup failed; no file was left behind');
    throw error;
  });
  progress?.succeed(`${result.rows} rows written to ${file} (${result.bytes} bytes, sha256 ${result.sha256.slice(0, 12)}…)`);
  if (options.json) ui.json(result);
  return EXIT.OK;
}

export async function restore(stack: Stack, options: { replace?: boolean; yes?: boolean; json?: boolean }, path: string): Promise<number> {
  const { ui, config } = stack;
  const file = await fileToRead(path, 'the backup to restore', 'Give the path of a file written by `automagik-telemetry backup` (they are named automagik-telemetry-<date>.backup.gz).');
  if (options.replace && !options.yes && !(await confirm(ui, 'restore --replace deletes the data in the store', `Replace ALL telemetry data in ${config.home} with ${file}?`))) {
    ui.err('nothing changed');
    return EXIT.FAILURE;
  }
  const progress = options.json ? undefined : ui.progress(`checking ${file}`);
  const result = await restoreBackup(stack.connection('admin', 600_000), config.database, file, {
    replace: options.replace === true,
    onProgress: (rows) => progress?.update(`loading ${rows} rows`),
  }).catch((error: unknown) => {
    progress?.fail('restore stopped; the store was not changed');
    throw error;
  });
  progress?.succeed(`restored ${result.rows} rows from ${file}${result.replaced ? ' (replacing the previous data)' : ''}`);
  if (options.json) ui.json(result);
  return EXIT.OK;
}
