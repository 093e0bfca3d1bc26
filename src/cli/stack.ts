// Owns the skeleton every stack command shares: its options, the Config (with the home's remembered stack), the engine, failures in context.

import type { Command } from 'commander';
import { loadConfig, type Config, type ConfigFlags } from '../config/index.js';
import { connectionFor, type ClickHouseConnection } from '../clickhouse/connection.js';
import type { Role } from '../config/roles.js';
import type { Engine } from '../engine/index.js';
import { liveRunState } from '../engine/run-state.js';
import { differences, readRememberedStack, rememberedFlags, type RememberedStack } from '../engine/stack-file.js';
import { inContext } from './failures.js';
import type { Ui } from './ui.js';

export interface StackOptions {
  home?: string;
  engine?: string;
  host?: string;
  clickhousePort?: string;
  otlpPort?: string;
  dashboardPort?: string;
  otlpGrpcPort?: string;
  auth?: boolean;
  /** start's --tls / --no-tls (other commands follow the remembered stack). */
  tls?: boolean;
  /** start only: --max-disk-mb. */
  maxDiskMb?: string;
  json?: boolean;
  /** --docker-host: only picks where the Docker engine is reached (not part of Config). */
  dockerHost?: string;
}

/** What a command module gets: the output, and the wrapper that turns a command's result or failure into an exit code. */
export interface Cli {
  ui: Ui;
  run(action: () => Promise<number>): Promise<void>;
}

/** Everything a stack command works with. */
export interface Stack {
  ui: Ui;
  config: Config;
  /** The flags as the engine resolves them again (the detached embedded engine gets these). */
  flags: ConfigFlags;
  /** What `start` recorded for this home, if anything. */
  remembered: RememberedStack | undefined;
  /** The command that starts this stack, for hints. */
  startCommand: string;
  engine(config?: Config): Promise<Engine>;
  /** A connection as `role`: each command takes the least role it needs (README, Security). */
  connection(role: Role, timeoutMs?: number): ClickHouseConnection;
}

/** Adds the options that pick which stack a command talks to (documented defaults live in src/config/defaults.ts). */
export function withStackOptions(command: Command): Command {
  return command
    .option('--home <dir>', 'where .env, data/ and run/ live (env AUTOMAGIK_TELEMETRY_HOME; default ~/.automagik-telemetry)')
    .option('--engine <kind>', 'auto, docker or embedded (env AUTOMAGIK_TELEMETRY_ENGINE; default: what start used for this home, else auto: the running one, else Docker when it answers, else embedded)')
    .option('--host <address>', 'address the servers bind to (env AUTOMAGIK_TELEMETRY_HOST; default: what start used, else 127.0.0.1)')
    .option('--clickhouse-port <port>', 'ClickHouse HTTP port (env AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT; default: what start used, else 8123)')
    .option('--otlp-port <port>', 'OTLP/HTTP receiver port (env AUTOMAGIK_TELEMETRY_OTLP_PORT; default: what start used, else 4318)')
    .option('--dashboard-port <port>', 'dashboard port: Grafana or the built-in one (env AUTOMAGIK_TELEMETRY_DASHBOARD_PORT; default: what start used, else 3000)')
    .option('--otlp-grpc-port <port>', 'OTLP/gRPC receiver port (env AUTOMAGIK_TELEMETRY_OTLP_GRPC_PORT; default: what start used, else 4317)')
    .option('--docker-host <url>', 'Docker or Podman API: unix:///path.sock, tcp://host:port or npipe:////./pipe/name (env DOCKER_HOST; default: the Docker context, then the usual sockets)');
}

/**
 * Declares a stack command: adds the stack options and runs `body` with the resolved Stack, its options and its
 * arguments. Failures leave as messages with exit codes (see failures.ts), told in this stack's terms.
 */
export function stackCommand<O extends object, A extends unknown[] = []>(
  cli: Cli,
  command: Command,
  body: (stack: Stack, options: O & StackOptions, ...args: A) => Promise<number>,
  settings: OpenOptions = {},
): Command {
  return withStackOptions(command).action((...received: unknown[]) => {
    // commander passes the arguments, then the options, then the command itself.
    const options = received[received.length - 2] as O & StackOptions;
    const args = received.slice(0, -2) as A;
    return cli.run(async () => {
      const stack = await openStack(options, cli.ui, settings);
      try {
        return await body(stack, options, ...args);
      } catch (error) {
        throw await inContext(error, stack);
      }
    });
  });
}

export interface OpenOptions {
  /** false: a remembered --no-auth does not carry over (start asks for it each time). */
  rememberAuth?: boolean;
}

/** Resolves a command's stack: flags > environment > the home's remembered stack > <home>/.env > defaults. */
export async function openStack(options: StackOptions, ui: Ui, settings: OpenOptions = {}): Promise<Stack> {
  const given: ConfigFlags = {
    ...(options.home !== undefined ? { home: options.home } : {}),
    ...(options.engine !== undefined ? { engine: options.engine } : {}),
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.clickhousePort !== undefined ? { clickhousePort: options.clickhousePort } : {}),
    ...(options.otlpPort !== undefined ? { otlpPort: options.otlpPort } : {}),
    ...(options.dashboardPort !== undefined ? { dashboardPort: options.dashboardPort } : {}),
    ...(options.otlpGrpcPort !== undefined ? { otlpGrpcPort: options.otlpGrpcPort } : {}),
    ...(options.auth === false ? { auth: false } : {}),
    ...(options.tls !== undefined ? { tls: options.tls } : {}),
    ...(options.maxDiskMb !== undefined ? { maxDiskMb: options.maxDiskMb } : {}),
  };
  const env = ui.io.env;
  let config = await loadConfig({ flags: given, env });
  const remembered = await readRememberedStack(config.home);
  let flags = given;
  if (remembered) {
    flags = rememberedFlags(remembered, given, env, { auth: settings.rememberAuth !== false });
    config = await loadConfig({ flags, env });
    if (await runsNow(config)) {
      for (const difference of differences(remembered, config, given, env)) ui.err(ui.ce.yellow(`note: ${difference}`));
    }
  }
  const home = options.home !== undefined ? ` --home ${shellWord(options.home)}` : '';
  return {
    ui,
    config,
    flags,
    remembered,
    startCommand: `automagik-telemetry start${home}`,
    engine: async (withConfig = config) =>
      (await import('../engine/index.js')).selectEngine(withConfig, { flags, env, ...(options.dockerHost !== undefined ? { dockerHost: options.dockerHost } : {}) }),
    connection: (role, timeoutMs) => connectionFor(config, role, timeoutMs),
  };
}

/** True when a stack runs for this home now (its state file names a live process, or Docker's). */
async function runsNow(config: Config): Promise<boolean> {
  return (await liveRunState(config)) !== undefined;
}

function shellWord(value: string): string {
  return /^[A-Za-z0-9_./:@-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
