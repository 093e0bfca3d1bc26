// Owns reading a decoded OTLP message (protobufjs's decode, or the OTLP/JSON reader's output) into the model of each signal.

import type { FlatAttributes, MetricType, OtlpDataPoint, OtlpLogRecord, OtlpLogsRequest, OtlpMetric, OtlpMetricsRequest, OtlpSpan, OtlpTraceRequest } from './model.js';

/** A 64-bit integer as protobufjs (Long or number) or the JSON reader (bigint) gives it. */
type Int64 = { toString(): string } | number | bigint;
type Bytes = Uint8Array | number[];

// The fields of the decoded messages this module reads. Set fields are own properties: that is how a oneof member
// or a proto3 `optional` field is told apart from a default (protobufjs keeps defaults on the prototype).
export interface PbAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: Int64;
  doubleValue?: number;
  arrayValue?: { values?: PbAnyValue[] };
  kvlistValue?: { values?: PbKeyValue[] };
  bytesValue?: Bytes;
}
export interface PbKeyValue {
  key?: string;
  value?: PbAnyValue;
}
interface PbScope {
  name?: string;
  version?: string;
}
interface PbResource {
  attributes?: PbKeyValue[];
}
interface PbSpan {
  traceId?: Bytes;
  spanId?: Bytes;
  parentSpanId?: Bytes;
  name?: string;
  kind?: number;
  startTimeUnixNano?: Int64;
  endTimeUnixNano?: Int64;
  attributes?: PbKeyValue[];
  status?: { code?: number; message?: string };
  events?: Array<{ timeUnixNano?: Int64; name?: string; attributes?: PbKeyValue[] }>;
  links?: Array<{ traceId?: Bytes; spanId?: Bytes; attributes?: PbKeyValue[] }>;
}
export interface PbTraceRequest {
  resourceSpans?: Array<{ resource?: PbResource; scopeSpans?: Array<{ scope?: PbScope; spans?: PbSpan[] }> }>;
}
interface PbLogRecord {
  timeUnixNano?: Int64;
  observedTimeUnixNano?: Int64;
  severityNumber?: number;
  severityText?: string;
  body?: PbAnyValue;
  attributes?: PbKeyValue[];
  traceId?: Bytes;
  spanId?: Bytes;
  eventName?: string;
}
export interface PbLogsRequest {
  resourceLogs?: Array<{ resource?: PbResource; scopeLogs?: Array<{ scope?: PbScope; logRecords?: PbLogRecord[] }> }>;
}
interface PbPoint {
  attributes?: PbKeyValue[];
  startTimeUnixNano?: Int64;
  timeUnixNano?: Int64;
  asDouble?: number;
  asInt?: Int64;
  count?: Int64;
  sum?: number;
  min?: number;
  max?: number;
  bucketCounts?: Int64[];
  explicitBounds?: number[];
  scale?: number;
  zeroCount?: Int64;
  positive?: { offset?: number; bucketCounts?: Int64[] };
  negative?: { offset?: number; bucketCounts?: Int64[] };
  quantileValues?: Array<{ quantile?: number; value?: number }>;
  flags?: number;
}
interface PbMetric {
  name?: string;
  description?: string;
  unit?: string;
  gauge?: { dataPoints?: PbPoint[] };
  sum?: { dataPoints?: PbPoint[]; aggregationTemporality?: number; isMonotonic?: boolean };
  histogram?: { dataPoints?: PbPoint[]; aggregationTemporality?: number };
  exponentialHistogram?: { dataPoints?: PbPoint[]; aggregationTemporality?: number };
  summary?: { dataPoints?: PbPoint[] };
}
export interface PbMetricsRequest {
  resourceMetrics?: Array<{ resource?: PbResource; scopeMetrics?: Array<{ scope?: PbScope; metrics?: PbMetric[] }> }>;
}

const has = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

export function readTraces(message: PbTraceRequest): OtlpTraceRequest {
  return {
    resourceSpans: (message.resourceSpans ?? []).map((rs) => ({
      resource: flatten(rs.resource?.attributes),
      scopeSpans: (rs.scopeSpans ?? []).map((ss) => ({
        scopeName: ss.scope?.name ?? '',
        scopeVersion: ss.scope?.version ?? '',
        spans: (ss.spans ?? []).map(readSpan),
      })),
    })),
  };
}

function readSpan(span: PbSpan): OtlpSpan {
  const out: OtlpSpan = {
    traceId: bytes(span.traceId),
    spanId: bytes(span.spanId),
    parentSpanId: bytes(span.parentSpanId),
    name: span.name ?? '',
    kind: span.kind ?? 0,
    startTimeUnixNano: int64(span.startTimeUnixNano),
    endTimeUnixNano: int64(span.endTimeUnixNano),
    attributes: flatten(span.attributes),
    status: { code: span.status?.code ?? 0, message: span.status?.message ?? '' },
  };
  if (span.events && span.events.length > 0) {
    out.events = span.events.map((e) => ({ timeUnixNano: int64(e.timeUnixNano), name: e.name ?? '', attributes: flatten(e.attributes) }));
  }
  if (span.links && span.links.length > 0) {
    out.links = span.links.map((l) => ({ traceId: bytes(l.traceId), spanId: bytes(l.spanId), attributes: flatten(l.attributes) }));
  }
  return out;
}

export function readLogs(message: PbLogsRequest): OtlpLogsRequest {
  return {
    resourceLogs: (message.resourceLogs ?? []).map((rl) => ({
      resource: flatten(rl.resource?.attributes),
      scopeLogs: (rl.scopeLogs ?? []).map((sl) => ({
        scopeName: sl.scope?.name ?? '',
        scopeVersion: sl.scope?.version ?? '',
        logRecords: (sl.logRecords ?? []).map(readLogRecord),
      })),
    })),
  };
}

function readLogRecord(record: PbLogRecord): OtlpLogRecord {
  return {
    timeUnixNano: int64(record.timeUnixNano),
    observedTimeUnixNano: int64(record.observedTimeUnixNano),
    severityNumber: record.severityNumber ?? 0,
    severityText: record.severityText ?? '',
    body: flatValue(record.body),
    attributes: flatten(record.attributes),
    traceId: bytes(record.traceId),
    spanId: bytes(record.spanId),
    eventName: record.eventName ?? '',
  };
}

export function readMetrics(message: PbMetricsRequest): OtlpMetricsRequest {
  return {
    resourceMetrics: (message.resourceMetrics ?? []).map((rm) => ({
      resource: flatten(rm.resource?.attributes),
      scopeMetrics: (rm.scopeMetrics ?? []).map((sm) => ({
        scopeName: sm.scope?.name ?? '',
        scopeVersion: sm.scope?.version ?? '',
        metrics: (sm.metrics ?? []).map(readMetric),
      })),
    })),
  };
}

function readMetric(metric: PbMetric): OtlpMetric {
  const base = { name: metric.name ?? '', description: metric.description ?? '', unit: metric.unit ?? '' };
  const kind = (type: MetricType, data: { dataPoints?: PbPoint[]; aggregationTemporality?: number; isMonotonic?: boolean }): OtlpMetric => ({
    ...base,
    type,
    isMonotonic: data.isMonotonic ?? false,
    temporality: data.aggregationTemporality ?? 0,
    points: (data.dataPoints ?? []).map((p) => readPoint(type, p)),
  });
  if (has(metric, 'gauge') && metric.gauge) return kind('gauge', metric.gauge);
  if (has(metric, 'sum') && metric.sum) return kind('sum', metric.sum);
  if (has(metric, 'histogram') && metric.histogram) return kind('histogram', metric.histogram);
  if (has(metric, 'exponentialHistogram') && metric.exponentialHistogram) return kind('exponential_histogram', metric.exponentialHistogram);
  if (has(metric, 'summary') && metric.summary) return kind('summary', metric.summary);
  return { ...base, type: undefined, isMonotonic: false, temporality: 0, points: [] };
}

function readPoint(type: MetricType, p: PbPoint): OtlpDataPoint {
  const point: OtlpDataPoint = {
    attributes: flatten(p.attributes),
    startTimeUnixNano: int64(p.startTimeUnixNano),
    timeUnixNano: int64(p.timeUnixNano),
    flags: p.flags ?? 0,
  };
  const optional = (key: 'sum' | 'min' | 'max') => (has(p, key) && typeof p[key] === 'number' ? p[key] : undefined);
  switch (type) {
    case 'gauge':
    case 'sum':
      if (has(p, 'asDouble')) point.value = p.asDouble ?? 0;
      else if (has(p, 'asInt')) point.value = Number(int64(p.asInt));
      break;
    case 'histogram':
      point.count = int64(p.count);
      point.sum = optional('sum');
      point.min = optional('min');
      point.max = optional('max');
      point.bucketCounts = (p.bucketCounts ?? []).map(int64);
      point.explicitBounds = [...(p.explicitBounds ?? [])];
      break;
    case 'exponential_histogram':
      point.count = int64(p.count);
      point.sum = optional('sum');
      point.min = optional('min');
      point.max = optional('max');
      point.scale = p.scale ?? 0;
      point.zeroCount = int64(p.zeroCount);
      point.positive = { offset: p.positive?.offset ?? 0, bucketCounts: (p.positive?.bucketCounts ?? []).map(int64) };
      point.negative = { offset: p.negative?.offset ?? 0, bucketCounts: (p.negative?.bucketCounts ?? []).map(int64) };
      break;
    case 'summary':
      point.count = int64(p.count);
      point.sum = p.sum ?? 0;
      point.quantiles = (p.quantileValues ?? []).map((q) => ({ quantile: q.quantile ?? 0, value: q.value ?? 0 }));
      break;
  }
  return point;
}

/** protobufjs leaves unset bytes fields as a shared empty array rather than a Uint8Array. */
function bytes(value: Bytes | undefined): Uint8Array {
  return value instanceof Uint8Array ? value : Uint8Array.from(value ?? []);
}

function int64(value: Int64 | undefined): bigint {
  if (value === undefined) return 0n;
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return BigInt(Math.trunc(value));
  return BigInt(value.toString());
}

/** Attributes flattened to strings: scalars as text, arrays and maps as JSON, bytes as base64. */
export function flatten(list: PbKeyValue[] | undefined): FlatAttributes {
  // No prototype: an attribute named "__proto__" is an attribute like any other, not a prototype change.
  const out: FlatAttributes = Object.create(null) as FlatAttributes;
  for (const kv of list ?? []) out[kv.key ?? ''] = flatValue(kv.value);
  return out;
}

function flatValue(value: PbAnyValue | undefined): string {
  const plain = plainValue(value);
  return typeof plain === 'string' ? plain : JSON.stringify(plain);
}

type Plain = string | Plain[] | { [key: string]: Plain };

function plainValue(value: PbAnyValue | undefined): Plain {
  if (value === undefined || value === null) return '';
  if (has(value, 'stringValue')) return value.stringValue ?? '';
  if (has(value, 'boolValue')) return String(value.boolValue ?? false);
  if (has(value, 'intValue')) return int64(value.intValue).toString();
  if (has(value, 'doubleValue')) return String(value.doubleValue ?? 0);
  if (has(value, 'bytesValue')) return Buffer.from(bytes(value.bytesValue)).toString('base64');
  if (has(value, 'arrayValue')) return (value.arrayValue?.values ?? []).map(plainValue);
  if (has(value, 'kvlistValue')) {
    const out = Object.create(null) as { [key: string]: Plain };
    for (const kv of value.kvlistValue?.values ?? []) out[kv.key ?? ''] = plainValue(kv.value);
    return out;
  }
  return '';
}
