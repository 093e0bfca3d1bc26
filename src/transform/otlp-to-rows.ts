// Owns the OTLP -> `traces` transform: which resource and span attributes become which columns.

import { SPAN_KIND_NAMES, STATUS_CODE_ERROR, toHex, type FlatAttributes, type OtlpSpan, type OtlpTraceRequest } from '../otlp/model.js';
import { clampDuration, formatTimestamp, type TraceRow } from './row.js';

/** Resource attributes that become columns; every other resource attribute is kept in `attributes`. */
export const RESOURCE_COLUMNS = Object.freeze({
  service_name: ['service.name'],
  project_name: ['project.name'],
  project_version: ['project.version', 'service.version'],
  environment: ['deployment.environment.name', 'deployment.environment', 'environment'],
});

const CONSUMED = new Set(Object.values(RESOURCE_COLUMNS).flat());

export interface RejectedSpan {
  /** Position of the span in the request, counting from 0 across all resource and scope groups. */
  index: number;
  name: string;
  reason: string;
}

export interface TransformResult {
  rows: TraceRow[];
  rejected: RejectedSpan[];
}

export function otlpToRows(request: OtlpTraceRequest): TransformResult {
  const rows: TraceRow[] = [];
  const rejected: RejectedSpan[] = [];
  let index = 0;
  for (const rs of request.resourceSpans) {
    const resource = resourceColumns(rs.resource);
    for (const ss of rs.scopeSpans) {
      for (const span of ss.spans) {
        const problem = validate(span);
        if (problem) rejected.push({ index, name: span.name, reason: problem });
        else rows.push(spanToRow(span, resource));
        index++;
      }
    }
  }
  return { rows, rejected };
}

interface ResourceColumns {
  service_name: string;
  project_name: string;
  project_version: string;
  environment: string;
  rest: FlatAttributes;
  hasRest: boolean;
}

function resourceColumns(resource: FlatAttributes): ResourceColumns {
  const first = (keys: readonly string[]): string => {
    for (const key of keys) {
      const value = resource[key];
      if (value !== undefined && value !== '') return value;
    }
    return '';
  };
  const rest: FlatAttributes = {};
  for (const [key, value] of Object.entries(resource)) if (!CONSUMED.has(key)) rest[key] = value;
  return {
    service_name: first(RESOURCE_COLUMNS.service_name) || 'unknown_service',
    project_name: first(RESOURCE_COLUMNS.project_name),
    project_version: first(RESOURCE_COLUMNS.project_version),
    environment: first(RESOURCE_COLUMNS.environment),
    rest,
    hasRest: Object.keys(rest).length > 0,
  };
}

function validate(span: OtlpSpan): string | undefined {
  if (span.traceId.length !== 16 || span.traceId.every((b) => b === 0)) return `trace_id must be 16 non-zero bytes, got ${span.traceId.length} bytes`;
  if (span.spanId.length !== 8 || span.spanId.every((b) => b === 0)) return `span_id must be 8 non-zero bytes, got ${span.spanId.length} bytes`;
  if (span.parentSpanId.length !== 0 && span.parentSpanId.length !== 8) return `parent_span_id must be empty or 8 bytes, got ${span.parentSpanId.length} bytes`;
  if (span.startTimeUnixNano === 0n) return 'start_time_unix_nano is missing';
  if (span.endTimeUnixNano !== 0n && span.endTimeUnixNano < span.startTimeUnixNano) return 'end_time_unix_nano is before start_time_unix_nano';
  return undefined;
}

function spanToRow(span: OtlpSpan, resource: ResourceColumns): TraceRow {
  const startMs = Number(span.startTimeUnixNano / 1_000_000n) + Number(span.startTimeUnixNano % 1_000_000n) / 1e6;
  const durationNs = span.endTimeUnixNano === 0n ? 0n : span.endTimeUnixNano - span.startTimeUnixNano;
  return {
    trace_id: toHex(span.traceId),
    span_id: toHex(span.spanId),
    parent_span_id: toHex(span.parentSpanId),
    timestamp: formatTimestamp(Math.floor(startMs)),
    service_name: resource.service_name,
    span_name: span.name,
    span_kind: SPAN_KIND_NAMES[span.kind] ?? 'UNSPECIFIED',
    status_code: span.status.code === STATUS_CODE_ERROR ? 'ERROR' : 'OK',
    status_message: span.status.message,
    duration_ms: clampDuration(Number(durationNs) / 1e6),
    // A project named on the resource wins; then one named on the span; then the service stands for the project.
    project_name: resource.project_name || span.attributes['project.name'] || resource.service_name,
    project_version: resource.project_version,
    environment: resource.environment,
    attributes: resource.hasRest ? { ...resource.rest, ...span.attributes } : span.attributes,
  };
}
