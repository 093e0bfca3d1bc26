// The library's public API.

export { loadConfig, ensureCredentials, isLoopback, DEFAULTS, type Config, type ConfigFlags, type LoadConfigOptions } from './config/index.js';
export { TelemetryError, isTelemetryError, type ErrorCode } from './errors.js';
export { ClickHouseError } from './clickhouse/errors.js';
export { selectEngine, DockerEngine, EmbeddedEngine } from './engine/index.js';
export type { Engine, EngineStatus, HealthReport, HealthCheck, ServiceStatus, StartResult, StopResult, CleanResult } from './engine/index.js';
export { startEmbeddedServer, type RunningEmbeddedServer } from './engine/embedded/server.js';
export { applySchema, loadSchema, type SqlRunner } from './schema/index.js';
export { otlpToRows, RESOURCE_COLUMNS } from './transform/otlp-to-rows.js';
export { TRACE_COLUMNS, TRACE_NESTED_COLUMNS, type TraceRow } from './transform/row.js';
export { logsToRows, LOG_COLUMNS, type LogRow } from './transform/logs.js';
export { metricsToRows, METRIC_COLUMNS, type MetricRow } from './transform/metrics.js';
export { AutomagikTelemetry, type TelemetryStats, type FlushResult } from './sdk/client.js';
export { SDK_DEFAULTS, resolveSdkOptions, type AutomagikTelemetryOptions, type BackendName } from './sdk/options.js';
export type { Attributes, AttributeValue, TrackOptions, EventStatus } from './sdk/event.js';
