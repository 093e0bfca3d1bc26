// Owns `dashboard`: where the running stack's dashboard is (Grafana for Docker, the built-in one for embedded).

import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { TelemetryError } from '../../errors.js';
import { EXIT } from '../errors.js';
import { stackCommand, type Cli, type Stack } from '../stack.js';

export function register(program: Command, cli: Cli): void {
  stackCommand(
    cli,
    program
      .command('dashboard')
      .description('print the dashboard URL of the running stack (Grafana with Docker, the built-in dashboard with the embedded engine)')
      .option('--open', 'also open it in the default browser')
      .option('--json', 'print the URL and how to sign in as JSON'),
    dashboard,
  );
}

export async function dashboard(stack: Stack, options: { open?: boolean; json?: boolean }): Promise<number> {
  const engine = await stack.engine();
  const status = await engine.status();
  if (!status.running) {
    throw new TelemetryError('E_ENGINE_NOT_RUNNING', 'the stack is not running', { hint: `Start it with \`${stack.startCommand}\`.` });
  }
  const url = `${status.endpoints.dashboard}/`;
  const signIn =
    engine.name === 'docker'
      ? `user "admin", password GRAFANA_ADMIN_PASSWORD in ${stack.config.paths.envFile}`
      : `user "${stack.config.auth.roles.reader.username}", the password from \`automagik-telemetry env --role reader\``;
  if (options.json) stack.ui.json({ engine: engine.name, url, signIn });
  else {
    stack.ui.out(url);
    stack.ui.err(stack.ui.ce.dim(`sign in as ${signIn}`));
  }
  if (options.open) {
    const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
    await new Promise<void>((resolve) => {
      const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
      child.on('error', () => {
        stack.ui.err(`could not run ${opener}: open ${url} in your browser`);
        resolve();
      });
      child.on('spawn', () => {
        child.unref();
        resolve();
      });
    });
  }
  return EXIT.OK;
}
