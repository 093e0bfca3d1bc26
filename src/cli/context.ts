// Owns the options every stack command shares, and turning them into a Config and an Engine.

import type { Command } from 'commander';
import { loadConfig, type Config, type ConfigFlags } from '../config/index.js';
import { engineFor, type Engine } from '../engine/index.js';
import type { Ui } from './ui.js';

export interface StackOptions {
  home?: string;
  engine?: string;
  host?: string;
  clickhousePort?: string;
  otlpPort?: string;
  auth?: boolean;
  json?: boolean;
}

/** Adds the options that pick which stack a command talks to (documented defaults live in src/config/defaults.ts). */
export function withStackOptions(command: Command): Command {
  return command
    .option('--home <dir>', 'where .env, data/ and run/ live (env AUTOMAGIK_TELEMETRY_HOME; default ~/.automagik-telemetry)')
    .option('--engine <kind>', 'auto or embedded (env AUTOMAGIK_TELEMETRY_ENGINE; default auto = embedded until the Docker engine ships)')
    .option('--host <address>', 'address the servers bind to (env AUTOMAGIK_TELEMETRY_HOST; default 127.0.0.1)')
    .option('--clickhouse-port <port>', 'ClickHouse HTTP port (env AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT; default 8123)')
    .option('--otlp-port <port>', 'OTLP/HTTP receiver port (env AUTOMAGIK_TELEMETRY_OTLP_PORT; default 4318)');
}

export interface StackContext {
  config: Config;
  flags: ConfigFlags;
  engine: Engine;
}

export async function stackContext(options: StackOptions, ui: Ui): Promise<StackContext> {
  const flags: ConfigFlags = {
    ...(options.home !== undefined ? { home: options.home } : {}),
    ...(options.engine !== undefined ? { engine: options.engine } : {}),
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.clickhousePort !== undefined ? { clickhousePort: options.clickhousePort } : {}),
    ...(options.otlpPort !== undefined ? { otlpPort: options.otlpPort } : {}),
    ...(options.auth === false ? { auth: false } : {}),
  };
  const config = await loadConfig({ flags, env: ui.io.env });
  return { config, flags, engine: engineFor(config, flags) };
}
