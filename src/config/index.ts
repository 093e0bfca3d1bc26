// Owns resolving the stack's configuration: CLI flags > environment > <home>/.env > defaults, into a frozen Config.

import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { TelemetryError } from '../errors.js';
import { DEFAULTS, DOTENV_PASSWORD, DOTENV_USER, ENGINE_KINDS, ENV_PREFIX, type EngineKind } from './defaults.js';
import { readDotenv, updateDotenv } from './dotenv.js';

export { DEFAULTS, ENGINE_KINDS, ENV_PREFIX, type EngineKind } from './defaults.js';

/** Options as the CLI passes them; every field is optional and overrides everything else. */
export interface ConfigFlags {
  home?: string;
  engine?: string;
  host?: string;
  clickhousePort?: string | number;
  otlpPort?: string | number;
  otlpGrpcPort?: string | number;
  dashboardPort?: string | number;
  /** false only when the user said --no-auth. */
  auth?: boolean;
}

export interface Config {
  readonly home: string;
  readonly engine: EngineKind;
  readonly host: string;
  readonly ports: { readonly clickhouse: number; readonly otlp: number; readonly otlpGrpc: number; readonly dashboard: number };
  readonly auth: {
    readonly required: boolean;
    readonly username: string;
    /** undefined until `start` generates one (see ensureCredentials). */
    readonly password: string | undefined;
  };
  readonly database: string;
  readonly maxBodyBytes: number;
  readonly startTimeoutMs: number;
  readonly dockerStartTimeoutMs: number;
  readonly paths: {
    readonly envFile: string;
    readonly dataDir: string;
    readonly runDir: string;
    readonly pidFile: string;
    readonly stateFile: string;
    readonly logFile: string;
    readonly startupErrorFile: string;
  };
}

export interface LoadConfigOptions {
  flags?: ConfigFlags;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

type Source = 'flag' | 'environment' | '.env' | 'default';
interface Setting {
  value: string;
  source: Source;
  name: string;
}

/** Resolves the configuration. Throws E_CONFIG naming the setting, its source and the accepted values. */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<Config> {
  const flags = options.flags ?? {};
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();

  const homeRaw = pick(flags.home, '--home', env, 'HOME', {}, String(DEFAULTS.home));
  const home = isAbsolute(homeRaw.value) ? homeRaw.value : resolve(cwd, homeRaw.value);
  const envFile = join(home, '.env');
  const homeStat = await stat(home).catch(() => undefined);
  if (homeStat && !homeStat.isDirectory()) {
    throw new TelemetryError('E_HOME_NOT_WRITABLE', `cannot write to ${home}: it is a file, not a folder`, {
      hint: `Choose a folder with ${homeRaw.name === '--home' ? '--home' : 'AUTOMAGIK_TELEMETRY_HOME or --home'}.`,
      details: { home },
    });
  }
  const dotenv = await readDotenv(envFile);

  const get = (flag: string | number | undefined, flagName: string, name: string, fallback: string | number): Setting =>
    pick(flag, flagName, env, name, dotenv, String(fallback));

  const engine = get(flags.engine, '--engine', 'ENGINE', DEFAULTS.engine);
  if (!(ENGINE_KINDS as readonly string[]).includes(engine.value)) {
    throw invalid(engine, `one of ${ENGINE_KINDS.join(', ')}`);
  }
  const host = get(flags.host, '--host', 'HOST', DEFAULTS.host);
  const ports = {
    clickhouse: port(get(flags.clickhousePort, '--clickhouse-port', 'CLICKHOUSE_PORT', DEFAULTS.clickhousePort)),
    otlp: port(get(flags.otlpPort, '--otlp-port', 'OTLP_PORT', DEFAULTS.otlpPort)),
    otlpGrpc: port(get(flags.otlpGrpcPort, '--otlp-grpc-port', 'OTLP_GRPC_PORT', DEFAULTS.otlpGrpcPort)),
    dashboard: port(get(flags.dashboardPort, '--dashboard-port', 'DASHBOARD_PORT', DEFAULTS.dashboardPort)),
  };
  const clash = findClash(ports);
  if (clash) {
    throw new TelemetryError('E_CONFIG', `the ${clash[0]} and ${clash[1]} ports are both ${ports[clash[0]]}`, {
      hint: 'Give each service its own port (--clickhouse-port, --otlp-port, --otlp-grpc-port, --dashboard-port).',
    });
  }

  const username =
    env[`${ENV_PREFIX}CLICKHOUSE_USERNAME`] ?? dotenv[`${ENV_PREFIX}CLICKHOUSE_USERNAME`] ?? dotenv[DOTENV_USER] ?? DEFAULTS.username;
  const password =
    env[`${ENV_PREFIX}CLICKHOUSE_PASSWORD`] ?? dotenv[`${ENV_PREFIX}CLICKHOUSE_PASSWORD`] ?? dotenv[DOTENV_PASSWORD];
  const database = get(undefined, '', 'CLICKHOUSE_DATABASE', DEFAULTS.database);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database.value)) throw invalid(database, 'a database name (letters, digits, _)');

  const maxBodyMb = positive(get(undefined, '', 'MAX_BODY_MB', DEFAULTS.maxBodyBytes / (1024 * 1024)));
  const startTimeoutMs = positive(get(undefined, '', 'START_TIMEOUT_MS', DEFAULTS.startTimeoutMs));
  const dockerStartTimeoutMs = positive(get(undefined, '', 'DOCKER_START_TIMEOUT_MS', DEFAULTS.dockerStartTimeoutMs));

  const runDir = join(home, 'run');
  const config: Config = {
    home,
    engine: engine.value as EngineKind,
    host: host.value,
    ports,
    auth: { required: flags.auth !== false, username, password: password === '' ? undefined : password },
    database: database.value,
    maxBodyBytes: Math.round(maxBodyMb * 1024 * 1024),
    startTimeoutMs,
    dockerStartTimeoutMs,
    paths: {
      envFile,
      dataDir: join(home, 'data'),
      runDir,
      pidFile: join(runDir, 'engine.pid'),
      stateFile: join(runDir, 'engine.json'),
      logFile: join(runDir, 'engine.log'),
      startupErrorFile: join(runDir, 'startup-error.json'),
    },
  };
  return deepFreeze(config);
}

/** The address a client on this machine uses to reach servers bound to `host` (a wildcard means loopback). */
export function connectHost(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
}

/** The stack's endpoints, as a client on this machine reaches them. */
export function stackEndpoints(config: Config): { clickhouse: string; otlp: string; otlpTraces: string; otlpGrpc: string; dashboard: string } {
  const host = connectHost(config.host);
  return {
    clickhouse: `http://${host}:${config.ports.clickhouse}`,
    otlp: `http://${host}:${config.ports.otlp}`,
    otlpTraces: `http://${host}:${config.ports.otlp}/v1/traces`,
    otlpGrpc: `http://${host}:${config.ports.otlpGrpc}`,
    dashboard: `http://${host}:${config.ports.dashboard}`,
  };
}

/** True when the bind address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/**
 * Makes sure a password exists: when none is configured, generates a random one and stores it in <home>/.env
 * (mode 0600). Returns the config with the password filled in.
 */
export async function ensureCredentials(config: Config): Promise<Config> {
  if (config.auth.password !== undefined) return config;
  const password = randomBytes(18).toString('base64url');
  await updateDotenv(config.paths.envFile, { [DOTENV_USER]: config.auth.username, [DOTENV_PASSWORD]: password });
  return deepFreeze({ ...config, auth: { ...config.auth, password } });
}

/** Makes sure <home>/.env holds a value for `key` (a generated secret when it has none yet); returns the value. */
export async function ensureSecret(config: Config, key: string): Promise<string> {
  const existing = (await readDotenv(config.paths.envFile))[key];
  if (existing) return existing;
  const secret = randomBytes(18).toString('base64url');
  await updateDotenv(config.paths.envFile, { [key]: secret });
  return secret;
}

function pick(
  flag: string | number | undefined,
  flagName: string,
  env: NodeJS.ProcessEnv,
  name: string,
  dotenv: Record<string, string>,
  fallback: string,
): Setting {
  const envName = `${ENV_PREFIX}${name}`;
  if (flag !== undefined && flag !== '') return { value: String(flag), source: 'flag', name: flagName };
  const fromEnv = env[envName];
  if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: 'environment', name: envName };
  const fromFile = dotenv[envName];
  if (fromFile !== undefined && fromFile !== '') return { value: fromFile, source: '.env', name: envName };
  return { value: fallback, source: 'default', name: envName };
}

function invalid(setting: Setting, expected: string): TelemetryError {
  return new TelemetryError(
    'E_CONFIG',
    `${setting.name}=${JSON.stringify(setting.value)} (from ${setting.source}) is not valid: expected ${expected}`,
    { details: { setting: setting.name, source: setting.source } },
  );
}

function port(setting: Setting): number {
  const n = Number(setting.value);
  if (!/^\d+$/.test(setting.value) || n < 1 || n > 65535) throw invalid(setting, 'a port number from 1 to 65535');
  return n;
}

function positive(setting: Setting): number {
  const n = Number(setting.value);
  if (!Number.isFinite(n) || n <= 0) throw invalid(setting, 'a positive number');
  return n;
}

type PortName = 'clickhouse' | 'otlp' | 'otlpGrpc' | 'dashboard';

function findClash(ports: Record<PortName, number>): [PortName, PortName] | undefined {
  const names = ['clickhouse', 'otlp', 'otlpGrpc', 'dashboard'] as const;
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const a = names[i] as (typeof names)[number];
      const b = names[j] as (typeof names)[number];
      if (ports[a] === ports[b]) return [a, b];
    }
  }
  return undefined;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
