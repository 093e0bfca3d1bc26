// Owns the command line: commander wiring, one run wrapper that maps failures to exit codes.

import { Command, CommanderError } from 'commander';
import { packageVersion } from '../paths.js';
import { registerDashboard } from './commands/dashboard.js';
import { registerEnv } from './commands/env.js';
import { registerLifecycle } from './commands/lifecycle.js';
import { registerLogs } from './commands/logs.js';
import { registerQuery } from './commands/query.js';
import { registerQuerySignals } from './commands/query-signals.js';
import { registerSend } from './commands/send.js';
import { EXIT, reportError } from './errors.js';
import { createUi, type Io } from './ui.js';

export async function main(argv: string[], io: Io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  const ui = createUi(io);
  let exitCode: number = EXIT.OK;
  const json = argv.includes('--json');
  const run = async (action: () => Promise<number>): Promise<void> => {
    try {
      exitCode = await action();
    } catch (error) {
      exitCode = reportError(ui, error, json);
    }
  };

  const program = new Command('automagik-telemetry')
    .description('A self-hosted telemetry stack in one command: store, receive and query events.')
    .version(packageVersion(), '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 failure, 2 bad usage or configuration, 3 the stack is not running.
Settings resolve as: flags > environment (AUTOMAGIK_TELEMETRY_*) > <home>/.env > defaults.

Get started:
  $ automagik-telemetry start
  $ eval "$(automagik-telemetry env)"
  $ automagik-telemetry send --event hello --attr from=cli
  $ automagik-telemetry test
  $ automagik-telemetry query-traces --limit 10
  $ automagik-telemetry query-stats --by project
  $ automagik-telemetry status`,
    );

  registerLifecycle(program, ui, run);
  registerEnv(program, ui, run);
  registerLogs(program, ui, run);
  registerSend(program, ui, run);
  registerQuery(program, ui, run);
  registerQuerySignals(program, ui, run);
  registerDashboard(program, ui, run);

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    return reportError(ui, error, json);
  }
  return exitCode;
}
