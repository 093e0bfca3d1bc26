// Owns the start, stop, restart, status and health commands: parse, call the engine, render.

import type { Command } from 'commander';
import { ensureCredentials, isLoopback, type Config } from '../../config/index.js';
import { engineFor, type EngineStatus, type HealthReport } from '../../engine/index.js';
import { EXIT } from '../errors.js';
import { stackContext, withStackOptions, type StackOptions } from '../context.js';
import { formatBytes, formatDuration, keyValues, type Ui } from '../ui.js';

type Run = (action: () => Promise<number>) => Promise<void>;

export function registerLifecycle(program: Command, ui: Ui, run: Run): void {
  withStackOptions(
    program
      .command('start')
      .description('start the telemetry stack (embedded engine: ClickHouse-compatible HTTP + OTLP/HTTP receiver) and wait until it is healthy')
      .option('--foreground', 'stay attached and serve from this process until Ctrl-C (logs on stderr)')
      .option('--no-auth', 'accept requests without credentials (only for throwaway local stacks)')
      .option('--json', 'print the resulting status as JSON')
      .addHelpText(
        'after',
        `
The first start generates a password for user "telemetry" into <home>/.env (mode 0600).
Run \`automagik-telemetry env\` to print the variables that point an app at the stack.

Examples:
  $ automagik-telemetry start
  $ automagik-telemetry start --home ./telemetry --clickhouse-port 18123 --otlp-port 14318
  $ automagik-telemetry start --foreground`,
      ),
  ).action((options: StackOptions & { foreground?: boolean }) =>
    run(async () => {
      const context = await stackContext(options, ui);
      warnAboutExposure(ui, context.config);
      const config = await credentialsFor(ui, context.config);
      const engine = engineFor(config, context.flags);
      const progress = ui.progress('starting the embedded engine');
      let result;
      try {
        result = await engine.start({ foreground: options.foreground === true, onProgress: (m) => progress.update(m) });
      } catch (error) {
        progress.fail('the engine did not start');
        throw error;
      }
      progress.succeed(result.alreadyRunning ? `already running (pid ${result.status.pid})` : `healthy (pid ${result.status.pid})`);
      if (options.json) ui.json(result.status);
      else printStatus(ui, result.status);
      if (!options.json && !result.alreadyRunning) ui.out(`\n  Point an app at it: ${ui.c.cyan('automagik-telemetry env')}`);
      if (result.stopped) {
        ui.err('serving in the foreground; press Ctrl-C to stop');
        await result.stopped;
        ui.err('stopped');
      }
      return EXIT.OK;
    }),
  );

  withStackOptions(
    program
      .command('stop')
      .description('stop the stack gracefully: requests under way finish and waiting data is stored; data is kept')
      .option('--json', 'print the result as JSON'),
  ).action((options: StackOptions) =>
    run(async () => {
      const { engine } = await stackContext(options, ui);
      const result = await engine.stop();
      if (options.json) ui.json(result);
      else if (!result.wasRunning) ui.out('not running');
      else ui.out(result.killed ? `stopped (pid ${result.pid} did not stop in time and was killed)` : `stopped (pid ${result.pid})`);
      return EXIT.OK;
    }),
  );

  withStackOptions(
    program
      .command('restart')
      .description('stop the stack, then start it again and wait until it is healthy')
      .option('--json', 'print the resulting status as JSON'),
  ).action((options: StackOptions) =>
    run(async () => {
      const context = await stackContext(options, ui);
      const stopped = await context.engine.stop();
      if (!options.json) ui.err(stopped.wasRunning ? `stopped (pid ${stopped.pid})` : 'was not running');
      const config = await credentialsFor(ui, context.config);
      const progress = ui.progress('starting the embedded engine');
      const result = await engineFor(config, context.flags)
        .start({ onProgress: (m) => progress.update(m) })
        .catch((error: unknown) => {
          progress.fail('the engine did not start');
          throw error;
        });
      progress.succeed(`healthy (pid ${result.status.pid})`);
      if (options.json) ui.json(result.status);
      else printStatus(ui, result.status);
      return EXIT.OK;
    }),
  );

  withStackOptions(
    program
      .command('status')
      .description('show whether the stack runs, its pid, ports, uptime, row counts and disk use (exit 3 when stopped)')
      .option('--json', 'print the status as JSON'),
  ).action((options: StackOptions) =>
    run(async () => {
      const { engine } = await stackContext(options, ui);
      const status = await engine.status();
      if (options.json) ui.json(status);
      else printStatus(ui, status);
      return status.running ? EXIT.OK : EXIT.NOT_RUNNING;
    }),
  );

  withStackOptions(
    program
      .command('health')
      .description('check every endpoint (ClickHouse ping and an authenticated query, OTLP receiver); exit 1 when one fails')
      .option('--json', 'print the checks as JSON'),
  ).action((options: StackOptions) =>
    run(async () => {
      const { engine } = await stackContext(options, ui);
      const report = await engine.health();
      if (options.json) ui.json(report);
      else printHealth(ui, report);
      return report.healthy ? EXIT.OK : EXIT.FAILURE;
    }),
  );
}

function warnAboutExposure(ui: Ui, config: Config): void {
  if (!isLoopback(config.host)) {
    ui.err(ui.ce.yellow(`warning: binding to ${config.host}: the stack will be reachable from other machines`));
  }
  if (!config.auth.required) ui.err(ui.ce.yellow('warning: --no-auth: anyone who can reach the ports can read and write telemetry'));
}

/** The config with a password, generating one into <home>/.env on first start (auth off: unchanged). */
async function credentialsFor(ui: Ui, config: Config): Promise<Config> {
  if (!config.auth.required || config.auth.password !== undefined) return config;
  const withPassword = await ensureCredentials(config);
  ui.err(`generated a password for user "${config.auth.username}" in ${config.paths.envFile}`);
  return withPassword;
}

export function printStatus(ui: Ui, status: EngineStatus): void {
  const c = ui.c;
  const state = status.running ? c.green('running') : c.yellow('stopped');
  const rows: Array<[string, string]> = [
    ['engine', status.engine],
    ['state', state],
  ];
  if (status.running) {
    rows.push(['pid', String(status.pid)]);
    rows.push(['uptime', formatDuration(status.uptimeSeconds ?? 0)]);
  }
  rows.push(['clickhouse', `${status.endpoints.clickhouse}`]);
  rows.push(['otlp', `${status.endpoints.otlp}/v1/traces`]);
  if (status.rows) rows.push(['rows', `${status.rows.traces} in traces, ${status.rows.metricsHourly} in metrics_hourly`]);
  if (status.schemaVersion !== undefined) rows.push(['schema', `version ${status.schemaVersion}`]);
  rows.push(['data', `${status.dataDir} (${formatBytes(status.diskBytes)})`]);
  rows.push(['log', status.logFile]);
  ui.out(keyValues(rows));
}

function printHealth(ui: Ui, report: HealthReport): void {
  for (const check of report.checks) {
    const mark = check.ok ? ui.c.green('✔') : ui.c.red('✖');
    ui.out(`${mark} ${check.name.padEnd(17)} ${String(check.latencyMs).padStart(5)} ms  ${check.detail}`);
  }
  ui.out(report.healthy ? ui.c.green('healthy') : ui.c.red('unhealthy'));
}
