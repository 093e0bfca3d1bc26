// Owns `dashboard`: where the running stack's dashboard is (Grafana for Docker, the built-in one for embedded).

import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { TelemetryError } from '../../errors.js';
import { EXIT } from '../errors.js';
import { engineOf, stackContext, withStackOptions, type StackOptions } from '../context.js';
import type { Ui } from '../ui.js';

export function registerDashboard(program: Command, ui: Ui, run: (action: () => Promise<number>) => Promise<void>): void {
  withStackOptions(
    program
      .command('dashboard')
      .description('print the dashboard URL of the running stack (Grafana with Docker, the built-in dashboard with the embedded engine)')
      .option('--open', 'also open it in the default browser')
      .option('--json', 'print the URL and how to sign in as JSON'),
  ).action((options: StackOptions & { open?: boolean }) =>
    run(async () => {
      const context = await stackContext(options, ui);
      const engine = await engineOf(context, ui);
      const status = await engine.status();
      if (!status.running) {
        throw new TelemetryError('E_ENGINE_NOT_RUNNING', 'the stack is not running', { hint: 'Start it with `automagik-telemetry start`.' });
      }
      const url = `${status.endpoints.dashboard}/`;
      const signIn =
        engine.name === 'docker'
          ? `user "admin", password GRAFANA_ADMIN_PASSWORD in ${context.config.paths.envFile}`
          : `user "${context.config.auth.roles.reader.username}", the password from \`automagik-telemetry env --role reader\``;
      if (options.json) ui.json({ engine: engine.name, url, signIn });
      else {
        ui.out(url);
        ui.err(ui.ce.dim(`sign in as ${signIn}`));
      }
      if (options.open) {
        const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
        await new Promise<void>((resolve) => {
          const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
          child.on('error', () => {
            ui.err(`could not run ${opener}: open ${url} in your browser`);
            resolve();
          });
          child.on('spawn', () => {
            child.unref();
            resolve();
          });
        });
      }
      return EXIT.OK;
    }),
  );
}
