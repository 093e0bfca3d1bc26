// Owns start, stop, restart, status, health, clean and reset: parse, call the engine, render.

import type { Command } from 'commander';
import { ensureCredentials, isLoopback, type Config } from '../../config/index.js';
import { TelemetryError } from '../../errors.js';
import type { EngineStatus, HealthReport } from '../../engine/index.js';
import { EXIT } from '../errors.js';
import { engineOf, stackContext, withStackOptions, type StackOptions } from '../context.js';
import { confirm, formatBytes, formatDuration, keyValues, type Ui } from '../ui.js';

type Run = (action: () => Promise<number>) => Promise<void>;

export function registerLifecycle(program: Command, ui: Ui, run: Run): void {
  withStackOptions(
    program
      .command('start')
      .description('start the telemetry stack and wait until it is healthy (Docker: ClickHouse, collector, Grafana; embedded: chDB with ClickHouse HTTP + OTLP)')
      .option('--foreground', 'embedded engine: stay attached and serve from this process until Ctrl-C (logs on stderr)')
      .option('--no-auth', 'embedded engine: accept requests without credentials (only for throwaway local stacks)')
      .option('--json', 'print the resulting status as JSON')
      .addHelpText(
        'after',
        `
The first start generates a password for user "telemetry" into <home>/.env (mode 0600), and for Grafana's admin
with the Docker engine. Run \`automagik-telemetry env\` to print the variables that point an app at the stack.
A second start reuses what runs; with Docker, a changed setting recreates only the affected container.

Examples:
  $ automagik-telemetry start
  $ automagik-telemetry start --engine embedded --home ./telemetry --clickhouse-port 18123 --otlp-port 14318
  $ automagik-telemetry start --engine embedded --foreground`,
      ),
  ).action((options: StackOptions & { foreground?: boolean }) =>
    run(async () => {
      const context = await stackContext(options, ui);
      warnAboutExposure(ui, context.config);
      const config = await credentialsFor(ui, context.config);
      const engine = await engineOf(context, ui, config);
      if (options.foreground && engine.name !== 'embedded') throw new TelemetryError('E_CONFIG', '--foreground is for the embedded engine (add --engine embedded)');
      const progress = ui.progress(`starting the ${engine.name} engine`);
      let result;
      try {
        result = await engine.start({ foreground: options.foreground === true, onProgress: (m: string) => progress.update(m) });
      } catch (error) {
        progress.fail('the stack did not start');
        throw error;
      }
      const pid = result.status.pid ? ` (pid ${result.status.pid})` : '';
      progress.succeed(result.alreadyRunning ? `already running${pid}` : `healthy${pid}`);
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
      .description('stop the stack gracefully; data is kept (embedded: requests under way finish and waiting data is stored)')
      .option('--json', 'print the result as JSON'),
  ).action((options: StackOptions) =>
    run(async () => {
      const context = await stackContext(options, ui);
      const result = await (await engineOf(context, ui)).stop();
      if (options.json) ui.json(result);
      else if (!result.wasRunning) ui.out('not running');
      else ui.out(result.killed ? `stopped (pid ${result.pid} did not stop in time and was killed)` : `stopped${result.pid ? ` (pid ${result.pid})` : ''}`);
      return EXIT.OK;
    }),
  );

  withStackOptions(
    program
      .command('restart [service]')
      .description('restart the stack (stop, then start and wait for health); with Docker, one service: clickhouse, collector or grafana')
      .option('--json', 'print the resulting status as JSON'),
  ).action((service: string | undefined, options: StackOptions) =>
    run(async () => {
      const context = await stackContext(options, ui);
      const engine = await engineOf(context, ui);
      if (service !== undefined) {
        if (!('restartService' in engine)) throw new TelemetryError('E_CONFIG', `the ${engine.name} engine has no separate services: run restart without "${service}"`);
        const progress = ui.progress(`restarting ${service}`);
        await (engine as { restartService(name: string): Promise<string[]> }).restartService(service).catch((error: unknown) => {
          progress.fail(`${service} did not come back`);
          throw error;
        });
        progress.succeed(`${service} restarted and answering`);
        if (options.json) ui.json(await engine.status());
        return EXIT.OK;
      }
      const stopped = await engine.stop();
      if (!options.json) ui.err(stopped.wasRunning ? `stopped${stopped.pid ? ` (pid ${stopped.pid})` : ''}` : 'was not running');
      const config = await credentialsFor(ui, context.config);
      const progress = ui.progress(`starting the ${engine.name} engine`);
      const result = await (await engineOf(context, ui, config)).start({ onProgress: (m: string) => progress.update(m) }).catch((error: unknown) => {
        progress.fail('the stack did not start');
        throw error;
      });
      progress.succeed(`healthy${result.status.pid ? ` (pid ${result.status.pid})` : ''}`);
      if (options.json) ui.json(result.status);
      else printStatus(ui, result.status);
      return EXIT.OK;
    }),
  );

  withStackOptions(
    program
      .command('status')
      .description('show whether the stack runs: engine, services, ports, uptime, row counts, disk use (exit 3 when stopped)')
      .option('--json', 'print the status as JSON'),
  ).action((options: StackOptions) =>
    run(async () => {
      const context = await stackContext(options, ui);
      const status = await (await engineOf(context, ui)).status();
      if (options.json) ui.json(status);
      else printStatus(ui, status);
      return status.running ? EXIT.OK : EXIT.NOT_RUNNING;
    }),
  );

  withStackOptions(
    program
      .command('health')
      .description('check every endpoint (ClickHouse ping and an authenticated query, OTLP, Grafana); exit 1 when one fails')
      .option('--json', 'print the checks as JSON'),
  ).action((options: StackOptions) =>
    run(async () => {
      const context = await stackContext(options, ui);
      const report = await (await engineOf(context, ui)).health();
      if (options.json) ui.json(report);
      else printHealth(ui, report);
      return report.healthy ? EXIT.OK : EXIT.FAILURE;
    }),
  );

  withStackOptions(
    program
      .command('clean')
      .description('stop the stack and remove what start created (containers and network, or the engine run files); data is kept')
      .option('--json', 'print what was removed as JSON'),
  ).action((options: StackOptions) =>
    run(async () => {
      const context = await stackContext(options, ui);
      const result = await (await engineOf(context, ui)).clean();
      if (options.json) ui.json(result);
      else ui.out(result.removed.length === 0 ? 'nothing to remove' : result.removed.map((r) => `removed ${r}`).join('\n'));
      return EXIT.OK;
    }),
  );

  withStackOptions(
    program
      .command('reset')
      .description('clean, and DELETE ALL TELEMETRY DATA (volumes or the data folder); asks first')
      .option('-y, --yes', 'do not ask (needed without a terminal)')
      .option('--json', 'print what was removed as JSON'),
  ).action((options: StackOptions & { yes?: boolean }) =>
    run(async () => {
      const context = await stackContext(options, ui);
      const engine = await engineOf(context, ui);
      if (!options.yes && !(await confirm(ui, 'reset deletes all telemetry data', `Delete all telemetry data of the ${engine.name} stack in ${context.config.home}?`))) {
        ui.err('nothing deleted');
        return EXIT.FAILURE;
      }
      const result = await engine.reset();
      if (options.json) ui.json(result);
      else ui.out(result.removed.length === 0 ? 'nothing to remove' : result.removed.map((r) => `removed ${r}`).join('\n'));
      return EXIT.OK;
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
  if (status.running && status.pid !== undefined) rows.push(['pid', String(status.pid)]);
  if (status.running && status.uptimeSeconds !== undefined) rows.push(['uptime', formatDuration(status.uptimeSeconds)]);
  rows.push(['clickhouse', `${status.endpoints.clickhouse}`]);
  rows.push(['otlp', `${status.endpoints.otlp}/v1/{traces,logs,metrics}`]);
  if (status.endpoints.otlpGrpc) rows.push(['otlp grpc', status.endpoints.otlpGrpc]);
  rows.push(['dashboard', status.endpoints.dashboard]);
  if (status.rows) {
    const r = status.rows;
    const counts = [`${r.traces} in traces`, ...(r.logs !== undefined ? [`${r.logs} in logs`] : []), ...(r.metrics !== undefined ? [`${r.metrics} in metrics`] : []), `${r.metricsHourly} in metrics_hourly`];
    rows.push(['rows', counts.join(', ')]);
  }
  if (status.schemaVersion !== undefined) rows.push(['schema', `version ${status.schemaVersion}`]);
  rows.push(['data', status.engine === 'embedded' ? `${status.dataDir} (${formatBytes(status.diskBytes)})` : status.dataDir]);
  rows.push(['log', status.logFile]);
  ui.out(keyValues(rows));
  if (status.services) {
    ui.out('');
    for (const s of status.services) {
      const stateText = s.state === 'running' ? c.green(s.state) : c.yellow(s.state);
      const health = s.health ? ` (${s.health})` : '';
      const ports = s.ports.map((p) => `${p.host}:${p.hostPort}->${p.containerPort}`).join(', ');
      const up = s.uptimeSeconds !== undefined ? `  up ${formatDuration(s.uptimeSeconds)}` : '';
      ui.out(`  ${s.name.padEnd(11)} ${stateText}${health}  ${s.image}  ${ports}${up}`);
    }
  }
}

function printHealth(ui: Ui, report: HealthReport): void {
  for (const check of report.checks) {
    const mark = check.ok ? ui.c.green('✔') : ui.c.red('✖');
    ui.out(`${mark} ${check.name.padEnd(20)} ${String(check.latencyMs).padStart(5)} ms  ${check.detail}`);
  }
  ui.out(report.healthy ? ui.c.green('healthy') : ui.c.red('unhealthy'));
}
