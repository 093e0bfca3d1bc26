// Owns start, stop, restart, status, health, clean and reset: parse, call the engine, render.

import type { Command } from 'commander';
import { connectHost, ensureCredentials, isLoopback, type Config } from '../../config/index.js';
import { ensureCertificates } from '../../tls/certs.js';
import { TelemetryError } from '../../errors.js';
import { withDiskCap } from '../../engine/disk/space.js';
import { rememberStack } from '../../engine/stack-file.js';
import { EXIT } from '../errors.js';
import { stackCommand, type Cli, type Stack } from '../stack.js';
import { confirm, type Ui } from '../ui.js';
import { printHealth, printRemoved, printStatus } from './status-view.js';

interface Json {
  json?: boolean;
}

export function register(program: Command, cli: Cli): void {
  stackCommand(
    cli,
    program
      .command('start')
      .description('start the telemetry stack and wait until it is healthy (Docker: ClickHouse, collector, Grafana; embedded: chDB with ClickHouse HTTP + OTLP)')
      .option('--foreground', 'embedded engine: stay attached and serve from this process until Ctrl-C (logs on stderr)')
      .option('--no-auth', 'embedded engine: accept requests without credentials (only for throwaway local stacks)')
      .option('--tls', 'serve every endpoint over TLS with <home>/certs/ (generated when absent; env AUTOMAGIK_TELEMETRY_TLS=1); remembered for the home')
      .option('--no-tls', 'serve plain http again on a home that was started with --tls')
      .option('--max-disk-mb <mb>', 'the most the stored data may take; past it the oldest days are dropped; 0: no cap (env AUTOMAGIK_TELEMETRY_MAX_DISK_MB; default: 10% of the free space at the first start, at most 10 GiB, then remembered)')
      .option('--json', 'print the resulting status as JSON')
      .addHelpText(
        'after',
        `
The first start generates a password for user "telemetry" into <home>/.env (mode 0600), and for Grafana's admin
with the Docker engine. Run \`automagik-telemetry env\` to print the variables that point an app at the stack.
start records its engine, host, ports, database and size cap in <home>/run/stack.json: every later command with the same
home uses them, unless a flag or variable says otherwise.
A second start reuses what runs; with Docker, a changed setting recreates only the affected container.
With --tls, the certificates come from <home>/certs/ (server.crt, server.key, optional ca.crt), or a local CA and a
server certificate are generated there and renewed by a later start before they expire; \`env\` prints the CA to trust.

Examples:
  $ automagik-telemetry start
  $ automagik-telemetry start --engine embedded --home ./telemetry --clickhouse-port 18123 --otlp-port 14318
  $ automagik-telemetry start --engine embedded --foreground`,
      ),
    start,
    { rememberAuth: false },
  );
  stackCommand(
    cli,
    program
      .command('stop')
      .description('stop the stack gracefully; data is kept (embedded: requests under way finish and waiting data is stored)')
      .option('--json', 'print the result as JSON'),
    stop,
  );
  stackCommand(
    cli,
    program
      .command('restart [service]')
      .description('restart the stack (stop, then start and wait for health); with Docker, one service: clickhouse, collector or grafana')
      .option('--json', 'print the resulting status as JSON'),
    restart,
  );
  stackCommand(cli, program.command('status').description('show whether the stack runs: engine, services, ports, uptime, row counts, disk use, free space and the size cap (exit 3 when stopped)').option('--json', 'print the status as JSON'), status);
  stackCommand(cli, program.command('health').description('check every endpoint (ClickHouse ping and an authenticated query, OTLP, dashboard) and the disk (free space, warned when low; whether the store can write); exit 1 when one fails, 3 when nothing runs').option('--json', 'print the checks as JSON'), health);
  stackCommand(
    cli,
    program
      .command('clean')
      .description('stop the stack and remove what start created (containers and network, or the engine run files); data, the log and the query history are kept')
      .option('--json', 'print what was removed as JSON'),
    clean,
  );
  stackCommand(
    cli,
    program
      .command('reset')
      .description('clean, and DELETE ALL TELEMETRY DATA (volumes or the data folder); asks first')
      .option('-y, --yes', 'do not ask (needed without a terminal)')
      .option('--json', 'print what was removed as JSON'),
    reset,
  );
}

export async function start(stack: Stack, options: Json & { foreground?: boolean }): Promise<number> {
  const { ui } = stack;
  warnAboutExposure(ui, stack.config);
  const config = await withDiskCap(await credentialsFor(ui, stack.config));
  await certificatesFor(ui, config);
  const engine = await stack.engine(config);
  if (options.foreground && engine.name !== 'embedded') throw new TelemetryError('E_CONFIG', '--foreground is for the embedded engine (add --engine embedded)');
  const result = await withProgress(ui, `starting the ${engine.name} engine`, 'the stack did not start', (update) =>
    engine.start({ foreground: options.foreground === true, onProgress: update, onLogLine: (line) => ui.io.stderr.write(line) }),
  );
  const pid = result.value.status.pid ? ` (pid ${result.value.status.pid})` : '';
  if (result.value.alreadyRunning && result.value.status.endpoints.clickhouse.startsWith('https:') !== config.tls.enabled) {
    ui.err(ui.ce.yellow(`warning: the running stack serves ${config.tls.enabled ? 'plain http' : 'https'}: stop it, then start with ${config.tls.enabled ? '--tls' : '--no-tls'}`));
  }
  result.progress.succeed(result.value.alreadyRunning ? `already running${pid}` : `healthy${pid}`);
  // What runs is what later commands should reach: a stack started before homes remembered theirs is recorded as it runs.
  if (!result.value.alreadyRunning) await rememberStack(config, engine.name);
  else if (!stack.remembered) await rememberStack({ ...config, host: result.value.status.host, ports: { ...result.value.status.ports, otlpGrpc: result.value.status.ports.otlpGrpc ?? config.ports.otlpGrpc } }, engine.name);
  if (options.json) ui.json(result.value.status);
  else printStatus(ui, result.value.status);
  if (!options.json && !result.value.alreadyRunning) ui.out(`\n  Point an app at it: ${ui.c.cyan('automagik-telemetry env')}`);
  if (result.value.stopped) {
    ui.err('serving in the foreground; press Ctrl-C to stop');
    await result.value.stopped;
    ui.err('stopped');
  }
  return EXIT.OK;
}

export async function stop(stack: Stack, options: Json): Promise<number> {
  const result = await (await stack.engine()).stop();
  if (options.json) stack.ui.json(result);
  else if (!result.wasRunning) stack.ui.out('not running');
  else stack.ui.out(result.killed ? `stopped (pid ${result.pid} did not stop in time and was killed)` : `stopped${result.pid ? ` (pid ${result.pid})` : ''}`);
  return EXIT.OK;
}

export async function restart(stack: Stack, options: Json, service?: string): Promise<number> {
  const { ui } = stack;
  const engine = await stack.engine();
  if (service !== undefined) {
    const { progress } = await withProgress(ui, `restarting ${service}`, `${service} did not come back`, () => engine.restartService(service));
    progress.succeed(`${service} restarted and answering`);
    if (options.json) ui.json(await engine.status());
    return EXIT.OK;
  }
  const stopped = await engine.stop();
  if (!options.json) ui.err(stopped.wasRunning ? `stopped${stopped.pid ? ` (pid ${stopped.pid})` : ''}` : 'was not running');
  const config = await withDiskCap(await credentialsFor(ui, stack.config));
  await certificatesFor(ui, config);
  const again = await stack.engine(config);
  const result = await withProgress(ui, `starting the ${again.name} engine`, 'the stack did not start', (update) => again.start({ onProgress: update }));
  result.progress.succeed(`healthy${result.value.status.pid ? ` (pid ${result.value.status.pid})` : ''}`);
  await rememberStack(config, again.name);
  if (options.json) ui.json(result.value.status);
  else printStatus(ui, result.value.status);
  return EXIT.OK;
}

export async function status(stack: Stack, options: Json): Promise<number> {
  const result = await (await stack.engine()).status();
  if (options.json) stack.ui.json(result);
  else printStatus(stack.ui, result);
  return result.running ? EXIT.OK : EXIT.NOT_RUNNING;
}

export async function health(stack: Stack, options: Json): Promise<number> {
  const engine = await stack.engine();
  const report = await engine.health();
  if (options.json) stack.ui.json(report);
  else printHealth(stack.ui, report);
  if (report.healthy) return EXIT.OK;
  return (await engine.status()).running ? EXIT.FAILURE : EXIT.NOT_RUNNING;
}

export async function clean(stack: Stack, options: Json): Promise<number> {
  const result = await (await stack.engine()).clean();
  if (options.json) stack.ui.json(result);
  else printRemoved(stack.ui, result, stack.config);
  return EXIT.OK;
}

export async function reset(stack: Stack, options: Json & { yes?: boolean }): Promise<number> {
  const { ui } = stack;
  const engine = await stack.engine();
  if (!options.yes && !(await confirm(ui, 'reset deletes all telemetry data', `Delete all telemetry data of the ${engine.name} stack in ${stack.config.home}?`))) {
    ui.err('nothing deleted');
    return EXIT.FAILURE;
  }
  const result = await engine.reset();
  if (options.json) ui.json(result);
  else printRemoved(ui, result);
  return EXIT.OK;
}

/** Runs a step under a spinner; marks it failed when it throws. The caller says how it succeeded. */
async function withProgress<T>(ui: Ui, text: string, failure: string, step: (update: (m: string) => void) => Promise<T>) {
  const progress = ui.progress(text);
  try {
    return { value: await step((m) => progress.update(m)), progress };
  } catch (error) {
    progress.fail(failure);
    throw error;
  }
}

function warnAboutExposure(ui: Ui, config: Config): void {
  if (!isLoopback(config.host)) {
    ui.err(ui.ce.yellow(`warning: binding to ${config.host}: the stack will be reachable from other machines`));
  }
  if (!config.auth.required) ui.err(ui.ce.yellow('warning: --no-auth: anyone who can reach the ports can read and write telemetry'));
}

/** With TLS on: the home's certificates, generated or renewed when needed; what was done and any doubt about the user's, said on stderr. */
async function certificatesFor(ui: Ui, config: Config): Promise<void> {
  if (!config.tls.enabled) return;
  const report = await ensureCertificates(config.tls, [connectHost(config.host)]);
  const until = report.validTo.slice(0, 10);
  if (report.state === 'generated') ui.err(`generated a local CA and a server certificate in ${config.tls.dir} (valid until ${until}); clients trust ${report.caFile}`);
  if (report.state === 'renewed') ui.err(`renewed the server certificate in ${config.tls.dir} (valid until ${until}), signed by the same CA`);
  for (const warning of report.warnings) ui.err(ui.ce.yellow(`warning: ${warning}`));
}

/** The config with a password for every role, generating the missing ones into <home>/.env (auth off: unchanged). */
async function credentialsFor(ui: Ui, config: Config): Promise<Config> {
  if (!config.auth.required) return config;
  const ensured = await ensureCredentials(config);
  for (const role of ensured.generated) {
    ui.err(`generated a password for user "${ensured.config.auth.roles[role].username}" (${role} role) in ${config.paths.envFile}`);
  }
  return ensured.config;
}
