// Owns the SDK's options: every default in one place, each also settable through its AUTOMAGIK_TELEMETRY_* variable.

import { DEFAULTS, ENV_PREFIX } from '../config/defaults.js';
import { ROLE_SPECS } from '../config/roles.js';
import { TelemetryError } from '../errors.js';
import { SCRUB_MODES, type ScrubMode } from './privacy/scrub.js';
import { readStackCredential, readStackTls, stackHome } from './stack-credentials.js';
import type { Trust } from '../tls/fetch.js';

export type BackendName = 'otlp' | 'clickhouse';
export type { ScrubMode } from './privacy/scrub.js';

export interface AutomagikTelemetryOptions {
  /** Project the events belong to (resource attribute project.name; column project_name). Required. */
  projectName?: string;
  /** The app's version (project.version). */
  version?: string;
  /** Deployment environment (deployment.environment.name), e.g. "production". */
  environment?: string;
  /** service.name; defaults to projectName. */
  serviceName?: string;
  /** 'otlp' (default) or 'clickhouse'. Env AUTOMAGIK_TELEMETRY_BACKEND. */
  backend?: BackendName;
  /** OTLP/HTTP traces URL. Env AUTOMAGIK_TELEMETRY_ENDPOINT. Default: the local stack's (host and OTLP port). */
  endpoint?: string;
  /** 'protobuf' (default) or 'json'. Env AUTOMAGIK_TELEMETRY_OTLP_PROTOCOL ('http/protobuf' and 'http/json' also accepted). */
  otlpProtocol?: 'protobuf' | 'json';
  /** Extra OTLP request headers. Env OTEL_EXPORTER_OTLP_HEADERS (k=v,k2=v2, URL-encoded values). */
  headers?: Record<string, string>;
  /** ClickHouse HTTP URL. Env AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT. Default: the local stack's. */
  clickhouseEndpoint?: string;
  /**
   * PEM text of the CA that signed the store's certificate, for an https endpoint (either backend). Wins over caFile.
   * Without either, a local stack started with --tls is trusted through its <home>/certs/ca.crt; otherwise the system's CAs.
   */
  ca?: string | Uint8Array;
  /** Path of that CA's PEM file. Env AUTOMAGIK_TELEMETRY_CA_FILE. */
  caFile?: string;
  /** Env AUTOMAGIK_TELEMETRY_CLICKHOUSE_DATABASE. Default telemetry. */
  clickhouseDatabase?: string;
  /** Env AUTOMAGIK_TELEMETRY_CLICKHOUSE_TABLE. Default traces. */
  clickhouseTable?: string;
  /** Env AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME. Used by both backends (OTLP basic auth). */
  clickhouseUsername?: string;
  /** Env AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD. When neither is set: the local stack's ingest credential from <home>/.env. */
  clickhousePassword?: string;
  /** Events per request, for whichever backend sends. Env AUTOMAGIK_TELEMETRY_BATCH_SIZE. Default 100. */
  batchSize?: number;
  /** @deprecated the seed's name for batchSize (it always applied to both backends). */
  clickhouseBatchSize?: number;
  /** Per-request timeout. Env AUTOMAGIK_TELEMETRY_TIMEOUT_MS. Default 5000. */
  timeoutMs?: number;
  /** Retries after the first attempt, on network errors and retryable statuses. Env AUTOMAGIK_TELEMETRY_MAX_RETRIES. Default 3. */
  maxRetries?: number;
  /** gzip request bodies. Env AUTOMAGIK_TELEMETRY_COMPRESSION (gzip|none). Default true. */
  compression?: boolean;
  /** Send what is queued this often. Env AUTOMAGIK_TELEMETRY_FLUSH_INTERVAL_MS. Default 5000. */
  flushIntervalMs?: number;
  /** Events held in memory at most; beyond it the oldest are dropped and counted. Env AUTOMAGIK_TELEMETRY_MAX_QUEUE_SIZE. Default 10000. */
  maxQueueSize?: number;
  /** Batches in flight at once. Default 2. */
  maxConcurrentBatches?: number;
  /**
   * A folder that keeps every batch on disk until the store has it: across kill -9 and while the store is down.
   * Off by default. Env AUTOMAGIK_TELEMETRY_SPOOL_DIR.
   */
  spoolDir?: string;
  /** Bytes the spool holds at most; past that the oldest batches are dropped and counted. Env AUTOMAGIK_TELEMETRY_SPOOL_MAX_BYTES. Default 50 MiB. */
  spoolMaxBytes?: number;
  /** 'anonymous' sends the install's anonymous id (~/.automagik/user_id) as user.id. Default 'none'. */
  identify?: 'anonymous' | 'none';
  /** PII in attribute values and error messages: 'redact' (default), 'hash' (keyed, stable per install) or 'off'. Env AUTOMAGIK_TELEMETRY_SCRUB. */
  scrub?: ScrubMode;
  /** false turns the SDK into a no-op. The user's opt-out (AUTOMAGIK_TELEMETRY_ENABLED=false, DO_NOT_TRACK=1, ~/.automagik-no-telemetry) wins over true. */
  enabled?: boolean;
  /** Called with every failure the SDK swallows (it never throws into the host app). */
  onError?: (error: Error) => void;
}

export interface ResolvedOptions {
  projectName: string;
  version: string;
  environment: string;
  serviceName: string;
  backend: BackendName;
  endpoint: string;
  otlpProtocol: 'protobuf' | 'json';
  headers: Record<string, string>;
  clickhouseEndpoint: string;
  /** The CA https endpoints are verified against; undefined: the system's. */
  trust: Trust | undefined;
  clickhouseDatabase: string;
  clickhouseTable: string;
  clickhouseUsername: string;
  clickhousePassword: string | undefined;
  /** Where the credential came from: 'options', 'environment', a .env file, or 'none'. */
  credentialSource: string;
  batchSize: number;
  timeoutMs: number;
  maxRetries: number;
  compression: boolean;
  flushIntervalMs: number;
  maxQueueSize: number;
  maxConcurrentBatches: number;
  spoolDir: string | undefined;
  spoolMaxBytes: number;
  identify: 'anonymous' | 'none';
  scrub: ScrubMode;
  enabled: boolean;
}

export const SDK_DEFAULTS = Object.freeze({
  backend: 'otlp' as BackendName,
  endpoint: `http://localhost:${DEFAULTS.otlpPort}/v1/traces`,
  otlpProtocol: 'protobuf' as const,
  clickhouseEndpoint: `http://localhost:${DEFAULTS.clickhousePort}`,
  clickhouseDatabase: DEFAULTS.database,
  clickhouseTable: 'traces',
  // Apps hold the ingest role's credential (README, Security).
  clickhouseUsername: ROLE_SPECS.ingest.username,
  batchSize: 100,
  timeoutMs: 5_000,
  maxRetries: 3,
  compression: true,
  flushIntervalMs: 5_000,
  maxQueueSize: 10_000,
  maxConcurrentBatches: 2,
  spoolMaxBytes: 50 * 1024 * 1024,
  identify: 'none' as const,
  scrub: 'redact' as ScrubMode,
});

const P = ENV_PREFIX;

/** Options > environment > the local stack (<home>/.env, its host and ports) > defaults. Throws E_CONFIG naming the option. */
export function resolveSdkOptions(options: AutomagikTelemetryOptions, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  const str = (value: string | undefined, ...names: string[]): string | undefined => {
    if (value !== undefined) return value;
    for (const name of names) {
      const fromEnv = env[`${P}${name}`];
      if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    }
    return undefined;
  };
  const num = (value: number | undefined, option: string, fallback: number, min: number, ...names: string[]): number => {
    const raw = value ?? str(undefined, ...names);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || !Number.isInteger(n)) {
      throw new TelemetryError('E_CONFIG', `${option} (or ${P}${names[0]}) must be a whole number >= ${min}, got ${JSON.stringify(raw)}`);
    }
    return n;
  };
  const oneOf = <T extends string>(raw: string, option: string, allowed: readonly T[]): T => {
    if (!(allowed as readonly string[]).includes(raw)) {
      const names = allowed.map((a) => `'${a}'`);
      const list = names.length === 2 ? names.join(' or ') : `one of ${names.join(', ')}`;
      throw new TelemetryError('E_CONFIG', `${option} must be ${list}, got ${JSON.stringify(raw)}`);
    }
    return raw as T;
  };

  const projectName = str(options.projectName, 'PROJECT_NAME');
  if (!projectName) {
    throw new TelemetryError('E_CONFIG', 'projectName is required', { hint: `Pass { projectName: 'my-app' } or set ${P}PROJECT_NAME.` });
  }
  const backend = oneOf(str(options.backend, 'BACKEND') ?? SDK_DEFAULTS.backend, 'backend', ['otlp', 'clickhouse'] as const);
  const protocolRaw = str(options.otlpProtocol, 'OTLP_PROTOCOL') ?? SDK_DEFAULTS.otlpProtocol;
  const otlpProtocol = oneOf(protocolRaw.replace(/^http\//, ''), 'otlpProtocol', ['protobuf', 'json'] as const);
  const compressionRaw = options.compression ?? str(undefined, 'COMPRESSION');
  const compression = compressionRaw === undefined ? SDK_DEFAULTS.compression : compressionRaw === true || compressionRaw === 'gzip' || compressionRaw === 'true';
  const scrub = oneOf(str(options.scrub, 'SCRUB') ?? SDK_DEFAULTS.scrub, 'scrub', SCRUB_MODES);
  const identify = oneOf(options.identify ?? SDK_DEFAULTS.identify, 'identify', ['anonymous', 'none'] as const);

  // With no credential given, the local stack's (as `send` finds it): the app works without `eval "$(… env)"`.
  const username = str(options.clickhouseUsername, 'CLICKHOUSE_USERNAME');
  let password = str(options.clickhousePassword, 'CLICKHOUSE_PASSWORD');
  let credentialSource = options.clickhousePassword !== undefined ? 'options' : password !== undefined ? 'environment' : 'none';
  let stackUsername: string | undefined;
  if (password === undefined) {
    const found = readStackCredential(env);
    if (found) {
      password = found.password;
      stackUsername = found.username;
      credentialSource = found.file;
    }
  }
  // The stack's own endpoints, from the same variables `start` reads, when no URL is given.
  const host = env[`${P}HOST`] || DEFAULTS.host;
  const connect = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  // A home started with --tls serves https with its own CA: the default endpoints follow, trusting that CA.
  const stackTls = readStackTls(env);
  const scheme = stackTls ? 'https' : 'http';
  const stackUrl = (name: string, fallbackPort: number) => {
    const port = env[`${P}${name}`];
    return port || env[`${P}HOST`] ? `${scheme}://${connect.includes(':') ? `[${connect}]` : connect}:${port || fallbackPort}` : undefined;
  };
  const defaultUrl = (fallback: string) => (stackTls ? fallback.replace(/^http:/, 'https:') : fallback);
  const caFile = str(options.caFile, 'CA_FILE');
  const trust: Trust | undefined = options.ca !== undefined ? { ca: options.ca } : caFile !== undefined ? { caFile } : stackTls ? { caFile: stackTls.caFile } : undefined;

  return {
    projectName,
    version: str(options.version, 'PROJECT_VERSION') ?? '',
    environment: str(options.environment, 'ENVIRONMENT') ?? '',
    serviceName: options.serviceName ?? projectName,
    backend,
    endpoint: url(str(options.endpoint, 'ENDPOINT') ?? withPath(stackUrl('OTLP_PORT', DEFAULTS.otlpPort), '/v1/traces') ?? defaultUrl(SDK_DEFAULTS.endpoint), 'endpoint'),
    otlpProtocol,
    headers: { ...parseOtelHeaders(env.OTEL_EXPORTER_OTLP_HEADERS), ...(options.headers ?? {}) },
    clickhouseEndpoint: url(str(options.clickhouseEndpoint, 'CLICKHOUSE_ENDPOINT') ?? stackUrl('CLICKHOUSE_PORT', DEFAULTS.clickhousePort) ?? defaultUrl(SDK_DEFAULTS.clickhouseEndpoint), 'clickhouseEndpoint'),
    trust,
    clickhouseDatabase: identifier(str(options.clickhouseDatabase, 'CLICKHOUSE_DATABASE') ?? SDK_DEFAULTS.clickhouseDatabase, 'clickhouseDatabase'),
    clickhouseTable: identifier(str(options.clickhouseTable, 'CLICKHOUSE_TABLE') ?? SDK_DEFAULTS.clickhouseTable, 'clickhouseTable'),
    clickhouseUsername: username ?? stackUsername ?? SDK_DEFAULTS.clickhouseUsername,
    clickhousePassword: password,
    credentialSource,
    batchSize: num(options.batchSize ?? options.clickhouseBatchSize, options.batchSize === undefined && options.clickhouseBatchSize !== undefined ? 'clickhouseBatchSize' : 'batchSize', SDK_DEFAULTS.batchSize, 1, 'BATCH_SIZE', 'CLICKHOUSE_BATCH_SIZE'),
    timeoutMs: num(options.timeoutMs, 'timeoutMs', SDK_DEFAULTS.timeoutMs, 1, 'TIMEOUT_MS'),
    maxRetries: num(options.maxRetries, 'maxRetries', SDK_DEFAULTS.maxRetries, 0, 'MAX_RETRIES'),
    compression,
    flushIntervalMs: num(options.flushIntervalMs, 'flushIntervalMs', SDK_DEFAULTS.flushIntervalMs, 1, 'FLUSH_INTERVAL_MS'),
    maxQueueSize: num(options.maxQueueSize, 'maxQueueSize', SDK_DEFAULTS.maxQueueSize, 1, 'MAX_QUEUE_SIZE'),
    maxConcurrentBatches: num(options.maxConcurrentBatches, 'maxConcurrentBatches', SDK_DEFAULTS.maxConcurrentBatches, 1, 'MAX_CONCURRENT_BATCHES'),
    spoolDir: str(options.spoolDir, 'SPOOL_DIR'),
    spoolMaxBytes: num(options.spoolMaxBytes, 'spoolMaxBytes', SDK_DEFAULTS.spoolMaxBytes, 1024, 'SPOOL_MAX_BYTES'),
    identify,
    scrub,
    enabled: options.enabled !== false,
  };
}

/** What to tell a user whose store asked for a password the SDK does not have. */
export function credentialHint(options: ResolvedOptions, env: NodeJS.ProcessEnv = process.env): string {
  if (options.credentialSource !== 'none') return `the credential from ${options.credentialSource} was refused`;
  return (
    `no password was given and ${stackHome(env)}/.env has none: set ${P}CLICKHOUSE_PASSWORD ` +
    `(eval "$(npx automagik-telemetry env)" sets it for the local stack), or ${P}HOME to the stack's home`
  );
}

function withPath(base: string | undefined, path: string): string | undefined {
  return base === undefined ? undefined : `${base}${path}`;
}

function url(value: string, option: string): string {
  try {
    const parsed = new URL(value);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
    return value.replace(/\/+$/, '');
  } catch {
    throw new TelemetryError('E_CONFIG', `${option} must be an http(s) URL, got ${JSON.stringify(value)}`);
  }
}

function identifier(value: string, option: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) throw new TelemetryError('E_CONFIG', `${option} must be a plain identifier, got ${JSON.stringify(value)}`);
  return value;
}

/** OTEL_EXPORTER_OTLP_HEADERS: comma-separated key=value pairs with URL-encoded values. */
export function parseOtelHeaders(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (value ?? '').split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    let decoded = pair.slice(eq + 1).trim();
    try {
      decoded = decodeURIComponent(decoded);
    } catch {
      // A stray % is kept as written rather than throwing out the whole header list.
    }
    out[pair.slice(0, eq).trim()] = decoded;
  }
  return out;
}
