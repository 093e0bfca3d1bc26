// Owns the OTLP -> `traces` transform: which span fields become which columns, events and links included.

import { SPAN_KIND_NAMES, STATUS_CODE_ERROR, toHex, type OtlpSpan, type OtlpTraceRequest } from '../otlp/model.js';
import { mergedAttributes, projectOf, resourceColumns, type ResourceColumns } from './resource.js';
import { MAX_NANOS, clampDuration, formatNanos, formatTimestamp, type TraceRow } from './row.js';

export { RESOURCE_COLUMNS } from './resource.js';

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

function validate(span: OtlpSpan): string | undefined {
  if (span.traceId.length !== 16 || span.traceId.every((b) => b === 0)) return `trace_id must be 16 non-zero bytes, got ${span.traceId.length} bytes`;
  if (span.spanId.length !== 8 || span.spanId.every((b) => b === 0)) return `span_id must be 8 non-zero bytes, got ${span.spanId.length} bytes`;
  if (span.parentSpanId.length !== 0 && span.parentSpanId.length !== 8) return `parent_span_id must be empty or 8 bytes, got ${span.parentSpanId.length} bytes`;
  if (span.startTimeUnixNano === 0n) return 'start_time_unix_nano is missing';
  if (span.endTimeUnixNano !== 0n && span.endTimeUnixNano < span.startTimeUnixNano) return 'end_time_unix_nano is before start_time_unix_nano';
  for (const [i, event] of (span.events ?? []).entries()) {
    if (event.timeUnixNano > MAX_NANOS) return `event ${i} time_unix_nano is after 2262-04-11, the latest time the store holds`;
  }
  for (const [i, link] of (span.links ?? []).entries()) {
    if (link.traceId.length !== 16 || link.spanId.length !== 8) return `link ${i} must name a 16-byte trace_id and an 8-byte span_id`;
  }
  return undefined;
}

function spanToRow(span: OtlpSpan, resource: ResourceColumns): TraceRow {
  const row = spanColumns(span, resource);
  if (span.events && span.events.length > 0) {
    row['events.timestamp'] = span.events.map((e) => formatNanos(e.timeUnixNano));
    row['events.name'] = span.events.map((e) => e.name);
    row['events.attributes'] = span.events.map((e) => e.attributes);
  }
  if (span.links && span.links.length > 0) {
    row['links.trace_id'] = span.links.map((l) => toHex(l.traceId));
    row['links.span_id'] = span.links.map((l) => toHex(l.spanId));
    row['links.attributes'] = span.links.map((l) => l.attributes);
  }
  return row;
}

function spanColumns(span: OtlpSpan, resource: ResourceColumns): TraceRow {
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
    project_name: projectOf(resource, span.attributes),
    project_version: resource.project_version,
    environment: resource.environment,
    attributes: mergedAttributes(resource, span.attributes),
  };
}
