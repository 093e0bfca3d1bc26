// The library's full API, at `automagik-telemetry/engine`: configuration, engines, schema, transform, and the SDK.

export { loadConfig, ensureCredentials, isLoopback, DEFAULTS, type Config, type ConfigFlags, type LoadConfigOptions } from './config/index.js';
export { TelemetryError, isTelemetryError, type ErrorCode } from './errors.js';
export { ClickHouseError } from './clickhouse/errors.js';
export { ROLES, ROLE_SPECS, type Role } from './config/roles.js';
export { connectionFor, basicAuthorization, type ClickHouseConnection } from './clickhouse/connection.js';
export { ensureCertificates, spkiHash, type CertificateReport } from './tls/certs.js';
export { trustedFetch, type Trust } from './tls/fetch.js';
export { selectEngine } from './engine/index.js';
export { DockerEngine } from './engine/docker/engine.js';
export { EmbeddedEngine } from './engine/embedded/index.js';
export type { Engine, EngineStatus, HealthReport, HealthCheck, ServiceStatus, StartResult, StopResult, CleanResult, Removed, DockerEndpointReport } from './engine/index.js';
export { startEmbeddedServer, type RunningEmbeddedServer } from './engine/embedded/server.js';
export { applySchema, loadSchema, type SqlRunner } from './schema/index.js';
export { otlpToRows, RESOURCE_COLUMNS } from './transform/otlp-to-rows.js';
export { TRACE_COLUMNS, TRACE_NESTED_COLUMNS, type TraceRow } from './transform/row.js';
export { logsToRows, LOG_COLUMNS, type LogRow } from './transform/logs.js';
export { metricsToRows, METRIC_COLUMNS, type MetricRow } from './transform/metrics.js';
export * from './index.js';
