// Owns the SDK's options: every default in one place, each also settable through its AUTOMAGIK_TELEMETRY_* variable.

import { TelemetryError } from '../errors.js';

export type BackendName = 'otlp' | 'clickhouse';

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
  /** OTLP/HTTP traces URL. Env AUTOMAGIK_TELEMETRY_ENDPOINT. Default http://localhost:4318/v1/traces. */
  endpoint?: string;
  /** 'protobuf' (default) or 'json'. Env AUTOMAGIK_TELEMETRY_OTLP_PROTOCOL ('http/protobuf' and 'http/json' also accepted). */
  otlpProtocol?: 'protobuf' | 'json';
  /** Extra OTLP request headers. Env OTEL_EXPORTER_OTLP_HEADERS (k=v,k2=v2, URL-encoded values). */
  headers?: Record<string, string>;
  /** ClickHouse HTTP URL. Env AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT. Default http://localhost:8123. */
  clickhouseEndpoint?: string;
  /** Env AUTOMAGIK_TELEMETRY_CLICKHOUSE_DATABASE. Default telemetry. */
  clickhouseDatabase?: string;
  /** Env AUTOMAGIK_TELEMETRY_CLICKHOUSE_TABLE. Default traces. */
  clickhouseTable?: string;
  /** Env AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME. Default telemetry. Also used for OTLP basic auth when a password is set. */
  clickhouseUsername?: string;
  /** Env AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD. */
  clickhousePassword?: string;
  /** Events per request. Env AUTOMAGIK_TELEMETRY_CLICKHOUSE_BATCH_SIZE (both backends). Default 100. */
  clickhouseBatchSize?: number;
  /** Per-request timeout. Env AUTOMAGIK_TELEMETRY_TIMEOUT_MS. Default 5000. */
  timeoutMs?: number;
  /** Retries after the first attempt, on network errors and retryable statuses. Env AUTOMAGIK_TELEMETRY_MAX_RETRIES. Default 3. */
  maxRetries?: number;
  /** gzip request bodies. Env AUTOMAGIK_TELEMETRY_COMPRESSION (gzip|none). Default true. */
  compression?: boolean;
  /** Send what is queued this often. Env AUTOMAGIK_TELEMETRY_FLUSH_INTERVAL_MS. Default 5000. */
  flushIntervalMs?: number;
  /** Events held at most; beyond it the oldest are dropped and counted. Env AUTOMAGIK_TELEMETRY_MAX_QUEUE_SIZE. Default 10000. */
  maxQueueSize?: number;
  /** Batches in flight at once. Default 2. */
  maxConcurrentBatches?: number;
  /** Turns the SDK into a no-op. Env AUTOMAGIK_TELEMETRY_ENABLED=false. Default true. */
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
  clickhouseDatabase: string;
  clickhouseTable: string;
  clickhouseUsername: string;
  clickhousePassword: string | undefined;
  batchSize: number;
  timeoutMs: number;
  maxRetries: number;
  compression: boolean;
  flushIntervalMs: number;
  maxQueueSize: number;
  maxConcurrentBatches: number;
  enabled: boolean;
}

export const SDK_DEFAULTS = Object.freeze({
  backend: 'otlp' as BackendName,
  endpoint: 'http://localhost:4318/v1/traces',
  otlpProtocol: 'protobuf' as const,
  clickhouseEndpoint: 'http://localhost:8123',
  clickhouseDatabase: 'telemetry',
  clickhouseTable: 'traces',
  clickhouseUsername: 'telemetry_ingest',
  batchSize: 100,
  timeoutMs: 5_000,
  maxRetries: 3,
  compression: true,
  flushIntervalMs: 5_000,
  maxQueueSize: 10_000,
  maxConcurrentBatches: 2,
});

const P = 'AUTOMAGIK_TELEMETRY_';

/** Options > environment > defaults. Throws E_CONFIG naming the option and the accepted values. */
export function resolveSdkOptions(options: AutomagikTelemetryOptions, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  const str = (value: string | undefined, name: string): string | undefined => {
    if (value !== undefined) return value;
    const fromEnv = env[`${P}${name}`];
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };
  const num = (value: number | undefined, name: string, option: string, fallback: number, min: number): number => {
    const raw = value ?? str(undefined, name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || !Number.isInteger(n)) {
      throw new TelemetryError('E_CONFIG', `${option} (or ${P}${name}) must be a whole number >= ${min}, got ${JSON.stringify(raw)}`);
    }
    return n;
  };

  const projectName = str(options.projectName, 'PROJECT_NAME');
  if (!projectName) {
    throw new TelemetryError('E_CONFIG', 'projectName is required', { hint: `Pass { projectName: 'my-app' } or set ${P}PROJECT_NAME.` });
  }
  const backend = str(options.backend, 'BACKEND') ?? SDK_DEFAULTS.backend;
  if (backend !== 'otlp' && backend !== 'clickhouse') {
    throw new TelemetryError('E_CONFIG', `backend must be 'otlp' or 'clickhouse', got ${JSON.stringify(backend)}`);
  }
  const protocolRaw = str(options.otlpProtocol, 'OTLP_PROTOCOL') ?? SDK_DEFAULTS.otlpProtocol;
  const otlpProtocol = protocolRaw.replace(/^http\//, '');
  if (otlpProtocol !== 'protobuf' && otlpProtocol !== 'json') {
    throw new TelemetryError('E_CONFIG', `otlpProtocol must be 'protobuf' or 'json', got ${JSON.stringify(protocolRaw)}`);
  }
  const compressionRaw = options.compression ?? str(undefined, 'COMPRESSION');
  const compression = compressionRaw === undefined ? SDK_DEFAULTS.compression : compressionRaw === true || compressionRaw === 'gzip' || compressionRaw === 'true';
  const enabledRaw = options.enabled ?? str(undefined, 'ENABLED');
  const enabled = enabledRaw === undefined ? true : !(enabledRaw === false || enabledRaw === 'false' || enabledRaw === '0');

  return {
    projectName,
    version: str(options.version, 'PROJECT_VERSION') ?? '',
    environment: str(options.environment, 'ENVIRONMENT') ?? '',
    serviceName: options.serviceName ?? projectName,
    backend,
    endpoint: url(str(options.endpoint, 'ENDPOINT') ?? SDK_DEFAULTS.endpoint, 'endpoint'),
    otlpProtocol,
    headers: { ...parseOtelHeaders(env.OTEL_EXPORTER_OTLP_HEADERS), ...(options.headers ?? {}) },
    clickhouseEndpoint: url(str(options.clickhouseEndpoint, 'CLICKHOUSE_ENDPOINT') ?? SDK_DEFAULTS.clickhouseEndpoint, 'clickhouseEndpoint'),
    clickhouseDatabase: identifier(str(options.clickhouseDatabase, 'CLICKHOUSE_DATABASE') ?? SDK_DEFAULTS.clickhouseDatabase, 'clickhouseDatabase'),
    clickhouseTable: identifier(str(options.clickhouseTable, 'CLICKHOUSE_TABLE') ?? SDK_DEFAULTS.clickhouseTable, 'clickhouseTable'),
    clickhouseUsername: str(options.clickhouseUsername, 'CLICKHOUSE_USERNAME') ?? SDK_DEFAULTS.clickhouseUsername,
    clickhousePassword: str(options.clickhousePassword, 'CLICKHOUSE_PASSWORD'),
    batchSize: num(options.clickhouseBatchSize, 'CLICKHOUSE_BATCH_SIZE', 'clickhouseBatchSize', SDK_DEFAULTS.batchSize, 1),
    timeoutMs: num(options.timeoutMs, 'TIMEOUT_MS', 'timeoutMs', SDK_DEFAULTS.timeoutMs, 1),
    maxRetries: num(options.maxRetries, 'MAX_RETRIES', 'maxRetries', SDK_DEFAULTS.maxRetries, 0),
    compression,
    flushIntervalMs: num(options.flushIntervalMs, 'FLUSH_INTERVAL_MS', 'flushIntervalMs', SDK_DEFAULTS.flushIntervalMs, 1),
    maxQueueSize: num(options.maxQueueSize, 'MAX_QUEUE_SIZE', 'maxQueueSize', SDK_DEFAULTS.maxQueueSize, 1),
    maxConcurrentBatches: num(options.maxConcurrentBatches, 'MAX_CONCURRENT_BATCHES', 'maxConcurrentBatches', SDK_DEFAULTS.maxConcurrentBatches, 1),
    enabled,
  };
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
    out[pair.slice(0, eq).trim()] = decodeURIComponent(pair.slice(eq + 1).trim());
  }
  return out;
}
