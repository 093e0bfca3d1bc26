// Owns resolving the stack's configuration: CLI flags > environment > <home>/.env > defaults, into a frozen Config.

import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { TelemetryError } from '../errors.js';
import { DEFAULTS, DOTENV_CLUSTER_SECRET, ENGINE_KINDS, ENV_PREFIX, type EngineKind } from './defaults.js';
import { readDotenv, updateDotenv } from './dotenv.js';
import { ROLE_SPECS, ROLES, type Role } from './roles.js';

export { DEFAULTS, ENGINE_KINDS, ENV_PREFIX, type EngineKind } from './defaults.js';
export { INGEST_TABLES, ROLE_SPECS, ROLES, type Role } from './roles.js';

/** One role's user and password, and where they came from (so that an auth failure can say). */
export interface RoleCredential {
  readonly username: string;
  /** undefined until `start` generates one (see ensureCredentials). */
  readonly password: string | undefined;
  /** Where the password came from: the variable's name, `<home>/.env` with its key, or nowhere yet. */
  readonly source: string;
}

/** Options as the CLI passes them; every field is optional and overrides everything else. */
export interface ConfigFlags {
  home?: string;
  engine?: string;
  host?: string;
  clickhousePort?: string | number;
  otlpPort?: string | number;
  otlpGrpcPort?: string | number;
  dashboardPort?: string | number;
  /** No flag of its own: the remembered stack's database (src/engine/stack-file.ts) arrives here. */
  database?: string;
  /** false only when the user said --no-auth. */
  auth?: boolean;
  /** --tls / --no-tls on start; the remembered stack's choice arrives here as 'true' or 'false'. */
  tls?: boolean | string;
  /** --max-disk-mb on start; later commands get the remembered one (src/engine/stack-file.ts). */
  maxDiskMb?: string | number;
  /** No flag of its own: where a remembered maxDiskMb was first chosen (e.g. "--max-disk-mb at start"). */
  maxDiskSource?: string;
}

export interface Config {
  readonly home: string;
  readonly engine: EngineKind;
  readonly host: string;
  readonly ports: { readonly clickhouse: number; readonly otlp: number; readonly otlpGrpc: number; readonly dashboard: number };
  readonly auth: {
    readonly required: boolean;
    /** The three roles' credentials: ingest for apps, reader for dashboards, admin for the CLI itself. */
    readonly roles: Readonly<Record<Role, RoleCredential>>;
  };
  readonly database: string;
  /** Every endpoint over TLS (start --tls, AUTOMAGIK_TELEMETRY_TLS); the files live in <home>/certs/ (src/tls/certs.ts). */
  readonly tls: TlsSettings;
  /** Days every table keeps rows (TTL); `start` changes existing tables to it. */
  readonly retentionDays: number;
  readonly maxBodyBytes: number;
  /** How the embedded engine batches small inserts (see README, "Many small writers"). */
  readonly ingest: { readonly waitMs: number; readonly maxBatchBytes: number; readonly maxQueuedBytes: number; readonly dedupWindow: number };
  readonly startTimeoutMs: number;
  readonly dockerStartTimeoutMs: number;
  /** The size cap and the disk checks (README, "When the disk fills"). */
  readonly disk: DiskSettings;
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

export interface TlsSettings {
  readonly enabled: boolean;
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  /**
   * The CA clients trust: <home>/certs/ca.crt, or server.crt itself when the user provided a certificate without a
   * ca.crt (a self-signed certificate is its own CA). AUTOMAGIK_TELEMETRY_CA_FILE overrides it for this process's clients.
   */
  readonly caFile: string;
}

export interface DiskSettings {
  /**
   * The most the stored data may take, in MiB; past it the oldest partitions are dropped. 0: no cap. undefined: not
   * chosen yet (the first start computes the default from the free space, see src/engine/disk/space.ts).
   */
  readonly maxDiskMb: number | undefined;
  /** Where maxDiskMb came from: --max-disk-mb, the variable, .env, or the remembered stack. */
  readonly maxDiskSource: string;
  /** How often the embedded engine measures the data against the cap, in seconds. */
  readonly checkSeconds: number;
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

  const roles = resolveRoles(env, dotenv);
  const database = get(flags.database, 'the remembered database', 'CLICKHOUSE_DATABASE', DEFAULTS.database);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database.value)) throw invalid(database, 'a database name (letters, digits, _)');

  const tlsSetting = get(flags.tls === undefined ? undefined : String(flags.tls), '--tls', 'TLS', 'false');
  const caOverride = get(undefined, '', 'CA_FILE', '');
  const tls = await tlsSettings(home, yesNo(tlsSetting), caOverride.value === '' ? undefined : resolve(cwd, caOverride.value));
  const retention = get(undefined, '', 'RETENTION_DAYS', DEFAULTS.retentionDays);
  const retentionDays = Number(retention.value);
  if (!/^\d+$/.test(retention.value.trim()) || retentionDays < 1 || retentionDays > 3650) throw invalid(retention, 'a whole number of days from 1 to 3650');

  const maxBodyMb = positive(get(undefined, '', 'MAX_BODY_MB', DEFAULTS.maxBodyBytes / (1024 * 1024)));
  const startTimeoutMs = positive(get(undefined, '', 'START_TIMEOUT_MS', DEFAULTS.startTimeoutMs));
  const ingest = {
    waitMs: nonNegative(get(undefined, '', 'INSERT_WAIT_MS', DEFAULTS.insertWaitMs)),
    maxBatchBytes: Math.round(positive(get(undefined, '', 'INSERT_BATCH_MB', DEFAULTS.insertBatchMb)) * 1024 * 1024),
    maxQueuedBytes: Math.round(positive(get(undefined, '', 'INSERT_QUEUE_MB', DEFAULTS.insertQueueMb)) * 1024 * 1024),
    dedupWindow: Math.round(positive(get(undefined, '', 'DEDUP_WINDOW', DEFAULTS.dedupWindow))),
  };
  const dockerStartTimeoutMs = positive(get(undefined, '', 'DOCKER_START_TIMEOUT_MS', DEFAULTS.dockerStartTimeoutMs));
  const maxDisk = get(flags.maxDiskMb, '--max-disk-mb', 'MAX_DISK_MB', '');
  const disk: DiskSettings = {
    maxDiskMb: maxDisk.value === '' ? undefined : nonNegative(maxDisk),
    maxDiskSource: maxDisk.source === 'flag' ? (flags.maxDiskSource ?? maxDisk.name) : maxDisk.source === '.env' ? `${maxDisk.name} in <home>/.env` : maxDisk.name,
    checkSeconds: atLeastOne(get(undefined, '', 'DISK_CHECK_SECONDS', DEFAULTS.diskCheckSeconds)),
  };

  const runDir = join(home, 'run');
  const config: Config = {
    home,
    engine: engine.value as EngineKind,
    host: host.value,
    ports,
    auth: { required: flags.auth !== false, roles },
    database: database.value,
    tls,
    retentionDays,
    maxBodyBytes: Math.round(maxBodyMb * 1024 * 1024),
    ingest,
    startTimeoutMs,
    dockerStartTimeoutMs,
    disk,
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

/** The stack's endpoints, as a client on this machine reaches them (https with TLS on). */
export function stackEndpoints(config: Pick<Config, 'host' | 'ports'> & { tls?: Pick<TlsSettings, 'enabled'> }): { clickhouse: string; otlp: string; otlpTraces: string; otlpGrpc: string; dashboard: string } {
  const raw = connectHost(config.host);
  const host = raw.includes(':') ? `[${raw}]` : raw;
  const scheme = config.tls?.enabled ? 'https' : 'http';
  return {
    clickhouse: `${scheme}://${host}:${config.ports.clickhouse}`,
    otlp: `${scheme}://${host}:${config.ports.otlp}`,
    otlpTraces: `${scheme}://${host}:${config.ports.otlp}/v1/traces`,
    otlpGrpc: `${scheme}://${host}:${config.ports.otlpGrpc}`,
    dashboard: `${scheme}://${host}:${config.ports.dashboard}`,
  };
}

/** Where a home keeps its certificates, and which CA its clients trust (see TlsSettings.caFile; `caFile` overrides it). */
export async function tlsSettings(home: string, enabled: boolean, caOverride?: string): Promise<TlsSettings> {
  const dir = join(home, 'certs');
  const exists = (file: string) => stat(file).then((s) => s.isFile(), () => false);
  const certFile = join(dir, 'server.crt');
  const ca = join(dir, 'ca.crt');
  const caFile = caOverride ?? (!(await exists(ca)) && (await exists(certFile)) ? certFile : ca);
  return { enabled, dir, certFile, keyFile: join(dir, 'server.key'), caFile };
}

/** True when the bind address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/**
 * Each role's credential as the CLI and SDK use it: a variable (AUTOMAGIK_TELEMETRY_*) wins over `<home>/.env`, which
 * wins over the default user name; passwords have no default (start generates them).
 */
function resolveRoles(env: NodeJS.ProcessEnv, dotenv: Record<string, string>): Record<Role, RoleCredential> {
  const out = {} as Record<Role, RoleCredential>;
  for (const role of ROLES) {
    const spec = ROLE_SPECS[role];
    const username = nonEmpty(env[spec.envUser]) ?? nonEmpty(dotenv[spec.envUser]) ?? nonEmpty(dotenv[spec.dotenvUser]) ?? spec.username;
    const fromEnv = nonEmpty(env[spec.envPassword]);
    const fromDotenvVar = nonEmpty(dotenv[spec.envPassword]);
    const fromDotenv = nonEmpty(dotenv[spec.dotenvPassword]);
    const password = fromEnv ?? fromDotenvVar ?? fromDotenv;
    const source =
      fromEnv !== undefined
        ? `the environment variable ${spec.envPassword}`
        : fromDotenvVar !== undefined
          ? `${spec.envPassword} in <home>/.env`
          : fromDotenv !== undefined
            ? `${spec.dotenvPassword} in <home>/.env`
            : 'nowhere yet (start generates it)';
    out[role] = { username, password, source };
  }
  return out;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** The variables that carry credentials; the engine's own process reads credentials from <home>/.env alone. */
export const CREDENTIAL_VARIABLES: readonly string[] = ROLES.flatMap((role) => [ROLE_SPECS[role].envUser, ROLE_SPECS[role].envPassword]);

/**
 * Makes sure `<home>/.env` (mode 0600) holds a user and password for each role, and the cluster example's inter-server
 * secret: missing ones are generated, existing ones kept, so an existing home gains what it lacks on its next start.
 * Returns the config read again, and the roles that were generated now.
 */
export async function ensureCredentials(config: Config): Promise<{ config: Config; generated: Role[] }> {
  const stored = await readDotenv(config.paths.envFile);
  const updates: Record<string, string> = {};
  const generated: Role[] = [];
  const roles = { ...config.auth.roles };
  for (const role of ROLES) {
    const spec = ROLE_SPECS[role];
    if (nonEmpty(stored[spec.dotenvPassword]) !== undefined) continue;
    const password = randomBytes(18).toString('base64url');
    updates[spec.dotenvUser] = nonEmpty(stored[spec.dotenvUser]) ?? roles[role].username;
    updates[spec.dotenvPassword] = password;
    generated.push(role);
    // A variable still wins for this process's clients, as it did when the config was read.
    if (roles[role].password === undefined) roles[role] = { ...roles[role], password, source: `${spec.dotenvPassword} in <home>/.env` };
  }
  if (nonEmpty(stored[DOTENV_CLUSTER_SECRET]) === undefined) updates[DOTENV_CLUSTER_SECRET] = randomBytes(24).toString('base64url');
  if (Object.keys(updates).length === 0) return { config, generated };
  await updateDotenv(config.paths.envFile, updates);
  if (generated.length === 0) return { config, generated };
  return { config: deepFreeze({ ...config, auth: { ...config.auth, roles } }), generated };
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

function yesNo(setting: Setting): boolean {
  const value = setting.value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(value)) return false;
  throw invalid(setting, '1 or 0 (true/false, yes/no, on/off)');
}

function nonNegative(setting: Setting): number {
  const n = Number(setting.value);
  if (setting.value.trim() === '' || !Number.isFinite(n) || n < 0) throw invalid(setting, 'a number, 0 or more');
  return n;
}

function atLeastOne(setting: Setting): number {
  const n = Number(setting.value);
  if (!Number.isFinite(n) || n < 1) throw invalid(setting, 'a number of seconds, 1 or more');
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
