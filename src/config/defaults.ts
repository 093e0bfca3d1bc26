// Owns every default value of the stack's configuration, in one place, each with the name users set it by.

import { homedir } from 'node:os';
import { join } from 'node:path';

export const ENV_PREFIX = 'AUTOMAGIK_TELEMETRY_';

export const ENGINE_KINDS = ['auto', 'docker', 'embedded'] as const;
export type EngineKind = (typeof ENGINE_KINDS)[number];

export const DEFAULTS = Object.freeze({
  /** --home / AUTOMAGIK_TELEMETRY_HOME */
  home: join(homedir(), '.automagik-telemetry'),
  /** --engine / AUTOMAGIK_TELEMETRY_ENGINE */
  engine: 'auto' as EngineKind,
  /** --host / AUTOMAGIK_TELEMETRY_HOST: the address servers bind to. */
  host: '127.0.0.1',
  /** --clickhouse-port / AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT */
  clickhousePort: 8123,
  /** --otlp-port / AUTOMAGIK_TELEMETRY_OTLP_PORT */
  otlpPort: 4318,
  /** --otlp-grpc-port / AUTOMAGIK_TELEMETRY_OTLP_GRPC_PORT */
  otlpGrpcPort: 4317,
  /** --dashboard-port / AUTOMAGIK_TELEMETRY_DASHBOARD_PORT */
  dashboardPort: 3000,
  /** AUTOMAGIK_TELEMETRY_CLICKHOUSE_DATABASE */
  database: 'telemetry',
  /** How many days every table keeps rows (AUTOMAGIK_TELEMETRY_RETENTION_DAYS): a whole number from 1 to 3650. */
  retentionDays: 90,
  /** Largest request body either endpoint accepts, after gunzip (AUTOMAGIK_TELEMETRY_MAX_BODY_MB). */
  maxBodyBytes: 64 * 1024 * 1024,
  /** How long `start` waits for the embedded engine to answer its health checks (AUTOMAGIK_TELEMETRY_START_TIMEOUT_MS). */
  startTimeoutMs: 30_000,
  /** How long `start` waits for each Docker service (AUTOMAGIK_TELEMETRY_DOCKER_START_TIMEOUT_MS): Grafana installs a plugin first. */
  dockerStartTimeoutMs: 180_000,
  /** Embedded engine: the longest a batch of small inserts waits for as many writers as the last one held (AUTOMAGIK_TELEMETRY_INSERT_WAIT_MS). */
  insertWaitMs: 10,
  /** Embedded engine: the largest batch, MiB of rows (AUTOMAGIK_TELEMETRY_INSERT_BATCH_MB). */
  insertBatchMb: 16,
  /** Embedded engine: rows held waiting to be written, MiB, before requests are refused retryable (AUTOMAGIK_TELEMETRY_INSERT_QUEUE_MB). */
  insertQueueMb: 256,
  /** Embedded engine: how many recent request tokens are remembered to store a retried request once (AUTOMAGIK_TELEMETRY_DEDUP_WINDOW). */
  dedupWindow: 100_000,
  /** Embedded engine: how often the data is measured against the size cap, seconds (AUTOMAGIK_TELEMETRY_DISK_CHECK_SECONDS). */
  diskCheckSeconds: 30,
  /** The size cap when none is set (--max-disk-mb / AUTOMAGIK_TELEMETRY_MAX_DISK_MB): this share of the free space at the first start… */
  maxDiskShareOfFree: 0.1,
  /** …but never more than this many MiB (10 GiB). */
  maxDiskDefaultCeilingMb: 10 * 1024,
  /** How long `--engine auto` waits for the Docker engine to answer a ping before choosing the embedded engine. */
  dockerPingTimeoutMs: 800,
});

/** Grafana's admin password in the Docker stack, generated into <home>/.env on the first Docker start. */
export const DOTENV_GRAFANA_PASSWORD = 'GRAFANA_ADMIN_PASSWORD';

/**
 * The cluster example's inter-server secret (templates/cluster/: remote_servers <secret from_env=…>), generated into
 * <home>/.env with the role passwords: shards then trust each other's forwarded queries as their initial user's.
 */
export const DOTENV_CLUSTER_SECRET = 'CLICKHOUSE_CLUSTER_SECRET';
