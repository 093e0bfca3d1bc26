// Owns the decoded shape of an OTLP export of each signal (traces, logs, metrics), the same whether it arrived as protobuf or JSON.

/** Attributes flattened to strings: scalars as text, arrays and maps as JSON, bytes as base64. */
export type FlatAttributes = Record<string, string>;

export interface OtlpSpan {
  /** Raw ids as received; validated by the transform, which reports bad ones per span. */
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId: Uint8Array;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: FlatAttributes;
  status: { code: number; message: string };
  /** Span events (a recorded exception is one); absent means none. */
  events?: OtlpSpanEvent[];
  /** Links to other spans; absent means none. */
  links?: OtlpSpanLink[];
}

export interface OtlpSpanEvent {
  timeUnixNano: bigint;
  name: string;
  attributes: FlatAttributes;
}

export interface OtlpSpanLink {
  traceId: Uint8Array;
  spanId: Uint8Array;
  attributes: FlatAttributes;
}

export interface OtlpScopeSpans {
  scopeName: string;
  scopeVersion: string;
  spans: OtlpSpan[];
}

export interface OtlpResourceSpans {
  resource: FlatAttributes;
  scopeSpans: OtlpScopeSpans[];
}

export interface OtlpTraceRequest {
  resourceSpans: OtlpResourceSpans[];
}

export interface OtlpLogRecord {
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  severityNumber: number;
  severityText: string;
  /** The body flattened like an attribute: a string as is, other values as JSON or text. */
  body: string;
  attributes: FlatAttributes;
  traceId: Uint8Array;
  spanId: Uint8Array;
  eventName: string;
}

export interface OtlpScopeLogs {
  scopeName: string;
  scopeVersion: string;
  logRecords: OtlpLogRecord[];
}

export interface OtlpResourceLogs {
  resource: FlatAttributes;
  scopeLogs: OtlpScopeLogs[];
}

export interface OtlpLogsRequest {
  resourceLogs: OtlpResourceLogs[];
}

export const METRIC_TYPES = ['gauge', 'sum', 'histogram', 'exponential_histogram', 'summary'] as const;
export type MetricType = (typeof METRIC_TYPES)[number];

/** One data point of any metric kind; which fields are set depends on the metric's type. */
export interface OtlpDataPoint {
  attributes: FlatAttributes;
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  /** Gauge and sum: as_double, or as_int as a number. Undefined when the point carries neither. */
  value?: number;
  /** Histograms and summaries. */
  count?: bigint;
  sum?: number;
  min?: number;
  max?: number;
  bucketCounts?: bigint[];
  explicitBounds?: number[];
  /** Exponential histograms. */
  scale?: number;
  zeroCount?: bigint;
  positive?: { offset: number; bucketCounts: bigint[] };
  negative?: { offset: number; bucketCounts: bigint[] };
  /** Summaries. */
  quantiles?: Array<{ quantile: number; value: number }>;
  flags: number;
}

export interface OtlpMetric {
  name: string;
  description: string;
  unit: string;
  /** Undefined when the metric carries no data of a known kind. */
  type: MetricType | undefined;
  isMonotonic: boolean;
  /** AggregationTemporality: 0 unspecified, 1 delta, 2 cumulative. */
  temporality: number;
  points: OtlpDataPoint[];
}

export interface OtlpScopeMetrics {
  scopeName: string;
  scopeVersion: string;
  metrics: OtlpMetric[];
}

export interface OtlpResourceMetrics {
  resource: FlatAttributes;
  scopeMetrics: OtlpScopeMetrics[];
}

export interface OtlpMetricsRequest {
  resourceMetrics: OtlpResourceMetrics[];
}

export const STATUS_CODE_ERROR = 2;
export const TEMPORALITY_NAMES = ['', 'delta', 'cumulative'] as const;

export const SPAN_KIND_NAMES = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'] as const;

export function countSpans(request: OtlpTraceRequest): number {
  let n = 0;
  for (const rs of request.resourceSpans) for (const ss of rs.scopeSpans) n += ss.spans.length;
  return n;
}

export function countLogRecords(request: OtlpLogsRequest): number {
  let n = 0;
  for (const rl of request.resourceLogs) for (const sl of rl.scopeLogs) n += sl.logRecords.length;
  return n;
}

export function countDataPoints(request: OtlpMetricsRequest): number {
  let n = 0;
  for (const rm of request.resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) n += m.points.length;
  return n;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
