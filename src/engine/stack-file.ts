// Owns <home>/run/stack.json: what `start` chose (engine, host, ports, database, auth), read back as flag-like overrides.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ENV_PREFIX, type Config, type ConfigFlags } from '../config/index.js';
import { TelemetryError } from '../errors.js';
import type { EngineName } from './types.js';

export interface RememberedStack {
  engine: EngineName;
  host: string;
  /** otlpGrpc is absent in records written before the gRPC receiver. */
  ports: { clickhouse: number; otlp: number; dashboard: number; otlpGrpc?: number };
  database: string;
  authRequired: boolean;
  /** Every endpoint over TLS (start --tls); absent in records written before TLS. */
  tls?: boolean;
  /** The size cap in MiB (0: none), absent in records written before the cap; with where it was chosen. */
  maxDiskMb?: number;
  maxDiskSource?: string;
  /** When start recorded it (ISO-8601). */
  recordedAt: string;
}

/** The settings a remembered stack can supply: each with the flag and variable that override it. */
const SETTINGS = [
  { key: 'engine', flag: '--engine', variable: 'ENGINE', of: (s: RememberedStack) => s.engine },
  { key: 'host', flag: '--host', variable: 'HOST', of: (s: RememberedStack) => s.host },
  { key: 'clickhousePort', flag: '--clickhouse-port', variable: 'CLICKHOUSE_PORT', of: (s: RememberedStack) => String(s.ports.clickhouse) },
  { key: 'otlpPort', flag: '--otlp-port', variable: 'OTLP_PORT', of: (s: RememberedStack) => String(s.ports.otlp) },
  { key: 'dashboardPort', flag: '--dashboard-port', variable: 'DASHBOARD_PORT', of: (s: RememberedStack) => String(s.ports.dashboard) },
  { key: 'otlpGrpcPort', flag: '--otlp-grpc-port', variable: 'OTLP_GRPC_PORT', of: (s: RememberedStack) => (s.ports.otlpGrpc === undefined ? undefined : String(s.ports.otlpGrpc)) },
  { key: 'database', flag: '', variable: 'CLICKHOUSE_DATABASE', of: (s: RememberedStack) => s.database },
  { key: 'tls', flag: '--tls', variable: 'TLS', of: (s: RememberedStack) => (s.tls === undefined ? undefined : String(s.tls)) },
  { key: 'maxDiskMb', flag: '--max-disk-mb', variable: 'MAX_DISK_MB', of: (s: RememberedStack) => (s.maxDiskMb === undefined ? undefined : String(s.maxDiskMb)) },
] as const;

export function stackFilePath(home: string): string {
  return join(home, 'run', 'stack.json');
}

/**
 * The stack recorded for this home, or undefined when there is none. A file that is not a stack record is an
 * E_CONFIG naming it: guessing defaults instead could point every command at another stack.
 */
export async function readRememberedStack(home: string): Promise<RememberedStack | undefined> {
  const file = stackFilePath(home);
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
    throw new TelemetryError('E_CONFIG', `cannot read ${file}: ${error.code ?? error.message}`, { hint: 'Check its permissions, or delete it: the next `start` writes it again.' });
  });
  if (text === undefined) return undefined;
  let value: Partial<RememberedStack> | undefined;
  try {
    value = JSON.parse(text) as Partial<RememberedStack>;
  } catch {
    value = undefined;
  }
  const ports = value?.ports;
  const valid =
    value !== undefined &&
    (value.engine === 'embedded' || value.engine === 'docker') &&
    typeof value.host === 'string' &&
    /^[A-Za-z0-9.:_-]+$/.test(value.host) &&
    typeof value.database === 'string' &&
    /^[A-Za-z_][A-Za-z0-9_]*$/.test(value.database) &&
    typeof value.authRequired === 'boolean' &&
    (value.tls === undefined || typeof value.tls === 'boolean') &&
    (value.maxDiskMb === undefined || (typeof value.maxDiskMb === 'number' && Number.isFinite(value.maxDiskMb) && value.maxDiskMb >= 0)) &&
    (value.maxDiskSource === undefined || (typeof value.maxDiskSource === 'string' && value.maxDiskSource.length < 200)) &&
    ports !== undefined &&
    [ports.clickhouse, ports.otlp, ports.dashboard].every((p) => Number.isInteger(p) && p > 0 && p < 65536);
  if (!valid) {
    throw new TelemetryError('E_CONFIG', `${file} is not a stack record written by start`, {
      hint: `Delete it (rm ${file}) and start the stack again with the settings you want: start records them.`,
      details: { file },
    });
  }
  return value as RememberedStack;
}

/** Records the stack `config` describes, as started by `engine` (atomically: a reader never sees half a file). */
export async function rememberStack(config: Config, engine: EngineName): Promise<RememberedStack> {
  const stack: RememberedStack = {
    engine,
    host: config.host,
    ports: { ...config.ports },
    database: config.database,
    authRequired: config.auth.required,
    tls: config.tls.enabled,
    ...(config.disk.maxDiskMb !== undefined ? { maxDiskMb: config.disk.maxDiskMb, maxDiskSource: config.disk.maxDiskSource } : {}),
    recordedAt: new Date().toISOString(),
  };
  const file = stackFilePath(config.home);
  await mkdir(join(config.home, 'run'), { recursive: true });
  await writeFile(`${file}.tmp`, `${JSON.stringify(stack, null, 2)}\n`, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
  return stack;
}

/**
 * Flags that make a command reach the remembered stack: each remembered setting, unless the command line or the
 * environment sets it. They slot in above <home>/.env and the defaults. `auth: false` leaves out a remembered
 * --no-auth (for `start`: turning credentials off is said each time, so that a plain start turns them back on).
 */
export function rememberedFlags(stack: RememberedStack, flags: ConfigFlags, env: NodeJS.ProcessEnv, options: { auth: boolean } = { auth: true }): ConfigFlags {
  const out: Record<string, string | boolean> = {};
  for (const s of SETTINGS) {
    if ((flags as Record<string, unknown>)[s.key] !== undefined) continue;
    if ((env[`${ENV_PREFIX}${s.variable}`] ?? '') !== '') continue;
    const value = s.of(stack);
    if (value !== undefined) out[s.key] = value;
  }
  if (options.auth && flags.auth === undefined && !stack.authRequired) out.auth = false;
  if (out.maxDiskMb !== undefined) out.maxDiskSource = stack.maxDiskSource ?? 'the remembered stack';
  return { ...out, ...flags } as ConfigFlags;
}

/** Where a command's settings differ from the remembered stack, in words: "ClickHouse port 9000 (--clickhouse-port), the stack uses 18123". */
export function differences(stack: RememberedStack, config: Config, flags: ConfigFlags, env: NodeJS.ProcessEnv): string[] {
  const source = (flag: string, variable: string, key: string) =>
    (flags as Record<string, unknown>)[key] !== undefined && flag !== '' ? flag : `${ENV_PREFIX}${variable}`;
  const now: Record<string, string> = {
    engine: config.engine,
    host: config.host,
    clickhousePort: String(config.ports.clickhouse),
    otlpPort: String(config.ports.otlp),
    dashboardPort: String(config.ports.dashboard),
    otlpGrpcPort: String(config.ports.otlpGrpc),
    database: config.database,
    tls: String(config.tls.enabled),
    maxDiskMb: config.disk.maxDiskMb === undefined ? '' : String(config.disk.maxDiskMb),
  };
  const words: Record<string, string> = { engine: 'engine', host: 'host', clickhousePort: 'ClickHouse port', otlpPort: 'OTLP port', dashboardPort: 'dashboard port', otlpGrpcPort: 'OTLP/gRPC port', database: 'database', tls: 'TLS', maxDiskMb: 'size cap (MiB)' };
  const out: string[] = [];
  for (const s of SETTINGS) {
    const mine = now[s.key];
    const theirs = s.of(stack);
    if (theirs === undefined || (s.key === 'engine' && mine === 'auto')) continue;
    if (mine !== theirs) out.push(`${words[s.key]} ${mine} (${source(s.flag, s.variable, s.key)}), the running stack's is ${theirs}`);
  }
  return out;
}
