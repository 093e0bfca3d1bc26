// Owns the protobufjs types of OTLP: the .proto files in proto/ loaded once, and each signal's request, response and gRPC service.

import { join } from 'node:path';
import protobuf from 'protobufjs';
import { packageRoot } from '../paths.js';

export const SIGNALS = ['traces', 'logs', 'metrics'] as const;
export type Signal = (typeof SIGNALS)[number];

/** Per signal: the protobuf package, message names, the HTTP path and the gRPC method. */
export const SIGNAL_INFO = Object.freeze({
  traces: { pkg: 'opentelemetry.proto.collector.trace.v1', request: 'ExportTraceServiceRequest', response: 'ExportTraceServiceResponse', service: 'TraceService', topField: 'resourceSpans', rejectedField: 'rejectedSpans', items: 'spans', path: '/v1/traces' },
  logs: { pkg: 'opentelemetry.proto.collector.logs.v1', request: 'ExportLogsServiceRequest', response: 'ExportLogsServiceResponse', service: 'LogsService', topField: 'resourceLogs', rejectedField: 'rejectedLogRecords', items: 'log records', path: '/v1/logs' },
  metrics: { pkg: 'opentelemetry.proto.collector.metrics.v1', request: 'ExportMetricsServiceRequest', response: 'ExportMetricsServiceResponse', service: 'MetricsService', topField: 'resourceMetrics', rejectedField: 'rejectedDataPoints', items: 'data points', path: '/v1/metrics' },
} satisfies Record<Signal, { pkg: string; request: string; response: string; service: string; topField: string; rejectedField: string; items: string; path: string }>);

const FILES = [
  'opentelemetry/proto/collector/trace/v1/trace_service.proto',
  'opentelemetry/proto/collector/logs/v1/logs_service.proto',
  'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
  'google/rpc/status.proto',
];

let root: protobuf.Root | undefined;

/** The loaded OTLP protobuf root (field names in lowerCamelCase, as protobufjs and OTLP/JSON spell them). */
export function otlpRoot(): protobuf.Root {
  if (!root) {
    const r = new protobuf.Root();
    const base = join(packageRoot(), 'proto');
    r.resolvePath = (_origin, target) => join(base, target);
    r.loadSync(FILES, { keepCase: false });
    r.resolveAll();
    root = r;
  }
  return root;
}

export function requestType(signal: Signal): protobuf.Type {
  return otlpRoot().lookupType(`${SIGNAL_INFO[signal].pkg}.${SIGNAL_INFO[signal].request}`);
}

export function responseType(signal: Signal): protobuf.Type {
  return otlpRoot().lookupType(`${SIGNAL_INFO[signal].pkg}.${SIGNAL_INFO[signal].response}`);
}

export function statusType(): protobuf.Type {
  return otlpRoot().lookupType('google.rpc.Status');
}

/** The gRPC method path of a signal's Export call, e.g. /opentelemetry.proto.collector.logs.v1.LogsService/Export. */
export function grpcExportPath(signal: Signal): string {
  return `/${SIGNAL_INFO[signal].pkg}.${SIGNAL_INFO[signal].service}/Export`;
}

/** An Export response; partial_success only when something was rejected (as the spec asks). */
export function encodeExportResponse(signal: Signal, rejected: number, errorMessage: string): Uint8Array {
  const type = responseType(signal);
  const body = rejected > 0 || errorMessage !== '' ? { partialSuccess: { [SIGNAL_INFO[signal].rejectedField]: rejected, errorMessage } } : {};
  return type.encode(type.fromObject(body)).finish();
}

export class OtlpDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OtlpDecodeError';
  }
}
