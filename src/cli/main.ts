// Owns the command line: loads only the command that runs, and one wrapper that maps failures to exit codes.

import { Command, CommanderError } from 'commander';
import { packageVersion } from '../paths.js';
import { COMMANDS, commandName } from './commands.js';
import { EXIT, reportError } from './errors.js';
import type { Cli } from './stack.js';
import { createUi, type Io } from './ui.js';

const HELP_FOOTER = `
Exit codes: 0 ok, 1 failure, 2 bad usage or configuration, 3 the stack is not running, 130 interrupted (Ctrl-C).
Settings resolve as: flags > environment (AUTOMAGIK_TELEMETRY_*) > what start recorded for the home (run/stack.json)
> <home>/.env > defaults.

Get started:
  $ automagik-telemetry start
  $ eval "$(automagik-telemetry env)"
  $ automagik-telemetry send --event hello --attr from=cli
  $ automagik-telemetry test
  $ automagik-telemetry query-traces --limit 10
  $ automagik-telemetry query-stats --by project
  $ automagik-telemetry status`;

const defaultIo = (): Io => ({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });

export async function main(argv: string[], io: Io = defaultIo()): Promise<number> {
  if (io.stdout === process.stdout) quietOnClosedOutput();
  const ui = createUi(io);
  let exitCode: number = EXIT.OK;
  const json = argv.includes('--json');
  const cli: Cli = {
    ui,
    run: async (action) => {
      try {
        exitCode = await action();
      } catch (error) {
        exitCode = reportError(ui, error, json);
      }
    },
  };

  const program = new Command('automagik-telemetry')
    .description('A self-hosted telemetry stack in one command: store, receive and query events.')
    .version(packageVersion(), '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .addHelpText('after', HELP_FOOTER);

  // Only the module of the command that runs is imported; the others are listed by name for --help.
  const first = argv.find((a) => !a.startsWith('-'));
  const wanted = first === 'help' ? argv[argv.indexOf('help') + 1] : first;
  const entry = COMMANDS.find((e) => commandName(e) === wanted);
  if (entry) (await entry.load()).register(program, cli);
  const registered = new Set(program.commands.map((c) => c.name()));
  for (const e of COMMANDS) {
    if (!registered.has(commandName(e))) program.command(e.usage).description(e.summary);
  }
  const order = COMMANDS.map(commandName);
  (program.commands as Command[]).sort((a, b) => order.indexOf(a.name()) - order.indexOf(b.name()));

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    return reportError(ui, error, json);
  }
  return exitCode;
}

let quiet = false;
/** A reader that went away (`| head`) is not a failure: stop quietly, with success, like other command-line tools. */
function quietOnClosedOutput(): void {
  if (quiet) return;
  quiet = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') process.exit(EXIT.OK);
      throw error;
    });
  }
}
