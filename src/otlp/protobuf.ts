// Owns OTLP's protobuf wire format for every signal: decoding export requests, encoding them (the SDK's and the
// tests' side), and the responses and google.rpc.Status bodies, with protobufjs and the .proto files in proto/.

import type protobuf from 'protobufjs';
import type { FlatAttributes, OtlpDataPoint, OtlpLogsRequest, OtlpMetric, OtlpMetricsRequest, OtlpTraceRequest } from './model.js';
import { readLogs, readMetrics, readTraces, type PbLogsRequest, type PbMetricsRequest, type PbTraceRequest } from './read.js';
import { OtlpDecodeError, SIGNAL_INFO, encodeExportResponse, requestType, responseType, statusType, type Signal } from './types.js';

export { OtlpDecodeError } from './types.js';

function decode(signal: Signal, body: Uint8Array): unknown {
  try {
    return requestType(signal).decode(body);
  } catch (error) {
    throw new OtlpDecodeError(`body is not a valid protobuf ${SIGNAL_INFO[signal].request}: ${(error as Error).message}`);
  }
}

/** Decodes a protobuf ExportTraceServiceRequest; throws OtlpDecodeError for bytes that are not one. */
export function decodeTraceRequest(body: Uint8Array): OtlpTraceRequest {
  return readTraces(decode('traces', body) as PbTraceRequest);
}

export function decodeLogsRequest(body: Uint8Array): OtlpLogsRequest {
  return readLogs(decode('logs', body) as PbLogsRequest);
}

export function decodeMetricsRequest(body: Uint8Array): OtlpMetricsRequest {
  return readMetrics(decode('metrics', body) as PbMetricsRequest);
}

const kv = (attrs: FlatAttributes) => Object.entries(attrs).map(([key, value]) => ({ key, value: { stringValue: value } }));

/**
 * Encodes a plain object already in protobufjs's shape (64-bit integers as Long, bytes as Uint8Array, enums as numbers):
 * encode() writes it directly, without fromObject's conversion pass (which parsed every 64-bit string, the bulk of the cost).
 */
function encode(signal: Signal, object: Record<string, unknown>): Uint8Array {
  return requestType(signal).encode(object).finish();
}

const scratch = new DataView(new ArrayBuffer(8));

/**
 * A 64-bit integer as its two 32-bit halves, the shape protobufjs's writer takes for any 64-bit field. Split through
 * a DataView: BigInt arithmetic would allocate at every step, and this runs for every timestamp sent.
 */
function long(n: bigint): { low: number; high: number; unsigned: boolean } {
  scratch.setBigUint64(0, n, true);
  return { low: scratch.getInt32(0, true), high: scratch.getInt32(4, true), unsigned: true };
}

/** Encodes a trace export request (what the SDK's OTLP backend sends); the inverse of decodeTraceRequest. */
export function encodeTraceRequest(request: OtlpTraceRequest): Uint8Array {
  return encode('traces', {
    resourceSpans: request.resourceSpans.map((rs) => ({
      resource: { attributes: kv(rs.resource) },
      scopeSpans: rs.scopeSpans.map((ss) => ({
        scope: { name: ss.scopeName, version: ss.scopeVersion },
        spans: ss.spans.map((span) => ({
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId,
          name: span.name,
          kind: span.kind,
          startTimeUnixNano: long(span.startTimeUnixNano),
          endTimeUnixNano: long(span.endTimeUnixNano),
          attributes: kv(span.attributes),
          status: { code: span.status.code, message: span.status.message },
          events: (span.events ?? []).map((e) => ({ timeUnixNano: long(e.timeUnixNano), name: e.name, attributes: kv(e.attributes) })),
          links: (span.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId, attributes: kv(l.attributes) })),
        })),
      })),
    })),
  });
}

/** Encodes a logs export request; bodies go as string values. */
export function encodeLogsRequest(request: OtlpLogsRequest): Uint8Array {
  return encode('logs', {
    resourceLogs: request.resourceLogs.map((rl) => ({
      resource: { attributes: kv(rl.resource) },
      scopeLogs: rl.scopeLogs.map((sl) => ({
        scope: { name: sl.scopeName, version: sl.scopeVersion },
        logRecords: sl.logRecords.map((r) => ({
          timeUnixNano: long(r.timeUnixNano),
          observedTimeUnixNano: long(r.observedTimeUnixNano),
          severityNumber: r.severityNumber,
          severityText: r.severityText,
          body: { stringValue: r.body },
          attributes: kv(r.attributes),
          traceId: r.traceId,
          spanId: r.spanId,
          eventName: r.eventName,
        })),
      })),
    })),
  });
}

/** Encodes a metrics export request. */
export function encodeMetricsRequest(request: OtlpMetricsRequest): Uint8Array {
  return encode('metrics', {
    resourceMetrics: request.resourceMetrics.map((rm) => ({
      resource: { attributes: kv(rm.resource) },
      scopeMetrics: rm.scopeMetrics.map((sm) => ({ scope: { name: sm.scopeName, version: sm.scopeVersion }, metrics: sm.metrics.map(metricObject) })),
    })),
  });
}

function metricObject(metric: OtlpMetric): Record<string, unknown> {
  const points = metric.points.map(pointObject);
  const base = { name: metric.name, description: metric.description, unit: metric.unit };
  switch (metric.type) {
    case 'gauge':
      return { ...base, gauge: { dataPoints: points } };
    case 'sum':
      return { ...base, sum: { dataPoints: points, aggregationTemporality: metric.temporality, isMonotonic: metric.isMonotonic } };
    case 'histogram':
      return { ...base, histogram: { dataPoints: points, aggregationTemporality: metric.temporality } };
    case 'exponential_histogram':
      return { ...base, exponentialHistogram: { dataPoints: points, aggregationTemporality: metric.temporality } };
    case 'summary':
      return { ...base, summary: { dataPoints: points } };
    default:
      return base;
  }
}

function pointObject(p: OtlpDataPoint): Record<string, unknown> {
  const big = (n: bigint | undefined) => (n === undefined ? undefined : long(n));
  const out: Record<string, unknown> = {
    attributes: kv(p.attributes),
    startTimeUnixNano: big(p.startTimeUnixNano),
    timeUnixNano: big(p.timeUnixNano),
    flags: p.flags,
  };
  if (p.value !== undefined) out.asDouble = p.value;
  if (p.count !== undefined) out.count = big(p.count);
  for (const key of ['sum', 'min', 'max'] as const) if (p[key] !== undefined) out[key] = p[key];
  if (p.bucketCounts) out.bucketCounts = p.bucketCounts.map(long);
  if (p.explicitBounds) out.explicitBounds = p.explicitBounds;
  if (p.scale !== undefined) out.scale = p.scale;
  if (p.zeroCount !== undefined) out.zeroCount = big(p.zeroCount);
  if (p.positive) out.positive = { offset: p.positive.offset, bucketCounts: p.positive.bucketCounts.map(long) };
  if (p.negative) out.negative = { offset: p.negative.offset, bucketCounts: p.negative.bucketCounts.map(long) };
  if (p.quantiles) out.quantileValues = p.quantiles;
  return out;
}

/** Decodes an ExportTraceServiceResponse body: the partial success, if any. */
export function decodeTraceResponse(body: Uint8Array): { rejectedSpans: number; errorMessage: string } {
  const { rejected, errorMessage } = decodeExportResponse('traces', body);
  return { rejectedSpans: rejected, errorMessage };
}

/** Decodes any signal's Export response: how many items the receiver rejected, and why. */
export function decodeExportResponse(signal: Signal, body: Uint8Array): { rejected: number; errorMessage: string } {
  const message = responseType(signal).decode(body) as unknown as { partialSuccess?: Record<string, protobuf.Long | number | string | undefined> };
  const partial = message.partialSuccess;
  return { rejected: Number(partial?.[SIGNAL_INFO[signal].rejectedField] ?? 0), errorMessage: String(partial?.errorMessage ?? '') };
}

/** Decodes a google.rpc.Status body (OTLP failure responses). */
export function decodeStatus(body: Uint8Array): { code: number; message: string } {
  const message = statusType().decode(body) as unknown as { code?: number; message?: string };
  return { code: message.code ?? 0, message: message.message ?? '' };
}

/** An ExportTraceServiceResponse; partial_success only when something was rejected (as the spec asks). */
export function encodeTraceResponse(rejectedSpans: number, errorMessage: string): Uint8Array {
  return encodeExportResponse('traces', rejectedSpans, errorMessage);
}

/** A google.rpc.Status, the body of an OTLP/HTTP failure response. */
export function encodeStatus(code: number, message: string): Uint8Array {
  const type = statusType();
  return type.encode(type.fromObject({ code, message })).finish();
}
