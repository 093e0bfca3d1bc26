// Owns the options every stack command shares, and turning them into a Config and an Engine.

import type { Command } from 'commander';
import { loadConfig, type Config, type ConfigFlags } from '../config/index.js';
import { selectEngine, type Engine } from '../engine/index.js';
import type { Ui } from './ui.js';

export interface StackOptions {
  home?: string;
  engine?: string;
  host?: string;
  clickhousePort?: string;
  otlpPort?: string;
  otlpGrpcPort?: string;
  dashboardPort?: string;
  auth?: boolean;
  json?: boolean;
}

/** Adds the options that pick which stack a command talks to (documented defaults live in src/config/defaults.ts). */
export function withStackOptions(command: Command): Command {
  return command
    .option('--home <dir>', 'where .env, data/ and run/ live (env AUTOMAGIK_TELEMETRY_HOME; default ~/.automagik-telemetry)')
    .option('--engine <kind>', 'auto, docker or embedded (env AUTOMAGIK_TELEMETRY_ENGINE; default auto: the running one, else Docker when it answers, else embedded)')
    .option('--host <address>', 'address the servers bind to (env AUTOMAGIK_TELEMETRY_HOST; default 127.0.0.1)')
    .option('--clickhouse-port <port>', 'ClickHouse HTTP port (env AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT; default 8123)')
    .option('--otlp-port <port>', 'OTLP/HTTP receiver port (env AUTOMAGIK_TELEMETRY_OTLP_PORT; default 4318)')
    .option('--otlp-grpc-port <port>', 'OTLP/gRPC receiver port, embedded engine (env AUTOMAGIK_TELEMETRY_OTLP_GRPC_PORT; default 4317)')
    .option('--dashboard-port <port>', 'dashboard port: Grafana or the built-in one (env AUTOMAGIK_TELEMETRY_DASHBOARD_PORT; default 3000)');
}

export interface StackContext {
  config: Config;
  flags: ConfigFlags;
}

export async function stackContext(options: StackOptions, ui: Ui): Promise<StackContext> {
  const flags: ConfigFlags = {
    ...(options.home !== undefined ? { home: options.home } : {}),
    ...(options.engine !== undefined ? { engine: options.engine } : {}),
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.clickhousePort !== undefined ? { clickhousePort: options.clickhousePort } : {}),
    ...(options.otlpPort !== undefined ? { otlpPort: options.otlpPort } : {}),
    ...(options.otlpGrpcPort !== undefined ? { otlpGrpcPort: options.otlpGrpcPort } : {}),
    ...(options.dashboardPort !== undefined ? { dashboardPort: options.dashboardPort } : {}),
    ...(options.auth === false ? { auth: false } : {}),
  };
  const config = await loadConfig({ flags, env: ui.io.env });
  return { config, flags };
}

/** The engine for a (possibly updated) config: see selectEngine. */
export function engineOf(context: StackContext, ui: Ui, config: Config = context.config): Promise<Engine> {
  return selectEngine(config, { flags: context.flags, env: ui.io.env });
}
