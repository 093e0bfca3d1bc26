// The package's main entry: the SDK alone. Nothing here loads the engine, Docker or the CLI (see src/engine-api.ts).

export { AutomagikTelemetry, type TelemetryStats, type FlushResult } from './sdk/client.js';
export { SDK_DEFAULTS, resolveSdkOptions, type AutomagikTelemetryOptions, type BackendName, type ScrubMode } from './sdk/options.js';
export type { ExitOptions } from './sdk/exit.js';
export type { Attributes, AttributeValue, TrackOptions, EventStatus } from './sdk/event.js';
export type { MetricOptions, LogOptions, MetricKind, Severity } from './sdk/signal-items.js';
export { TelemetryError, isTelemetryError, type ErrorCode } from './errors.js';
