// Owns turning what a person or a script says about a log line or a metric value (CLI flags, JSON lines) into OTLP
// log records and metric points, validated field by field.

import type { FlatAttributes, OtlpDataPoint, OtlpLogRecord, OtlpMetric } from '../otlp/model.js';
import { severityNumber, type SeverityName } from '../otlp/severity.js';

export const METRIC_KINDS = ['gauge', 'counter', 'histogram'] as const;
export type MetricKind = (typeof METRIC_KINDS)[number];
/** OTLP's severity ranges (otlp/severity.ts SEVERITY_NAMES), in lower case. */
export const SEVERITIES = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** The OpenTelemetry SDKs' default histogram bounds, so one recorded value lands in a bucket charts understand. */
export const DEFAULT_BOUNDS = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000] as const;

/** A bucket count per bound and one past the last, all 0: copied for each histogram point. */
const NO_COUNTS: readonly bigint[] = DEFAULT_BOUNDS.map(() => 0n).concat(0n);

export class RecordError extends Error {}

export type AttributeValue = string | number | boolean;

export interface MetricInput {
  name: string;
  value: number;
  kind?: MetricKind;
  unit?: string;
  attributes?: Record<string, AttributeValue>;
  /** ISO-8601 or epoch milliseconds; now when absent. */
  timestamp?: string | number;
}

export interface LogInput {
  message: string;
  severity?: Severity;
  attributes?: Record<string, AttributeValue>;
  traceId?: string;
  spanId?: string;
  timestamp?: string | number;
}

let lastNanos = 0n;

/** Now in nanoseconds, strictly increasing in this process: two records made in the same millisecond stay distinct. */
export function nowNanos(): bigint {
  const now = BigInt(Date.now()) * 1_000_000n;
  lastNanos = now > lastNanos ? now : lastNanos + 1n;
  return lastNanos;
}

function timeOf(timestamp: string | number | undefined): bigint {
  if (timestamp === undefined) return nowNanos();
  const ms = typeof timestamp === 'number' ? timestamp : Date.parse(timestamp);
  if (!Number.isFinite(ms) || ms < 0) throw new RecordError(`"timestamp" must be an ISO-8601 date or epoch milliseconds, got ${show(timestamp)}`);
  return BigInt(Math.floor(ms)) * 1_000_000n + BigInt(Math.round((ms % 1) * 1e6));
}

function flat(attributes: Record<string, AttributeValue> | undefined): FlatAttributes {
  const out: FlatAttributes = {};
  for (const [k, v] of Object.entries(attributes ?? {})) out[k] = String(v);
  return out;
}

/** One metric point: a gauge value, a counter increment (a delta sum), or one observation of a histogram. */
export function metricOf(input: MetricInput): OtlpMetric {
  if (input.name === '') throw new RecordError('the metric name is empty');
  if (!Number.isFinite(input.value)) throw new RecordError(`the value must be a finite number, got ${show(input.value)}`);
  const kind = input.kind ?? 'gauge';
  if (kind === 'counter' && input.value < 0) throw new RecordError(`a counter only goes up: the value must be >= 0, got ${input.value}`);
  const time = timeOf(input.timestamp);
  // Object literals of one shape throughout (no spreads): this runs on an app's hot path through the SDK.
  const point: OtlpDataPoint = { attributes: flat(input.attributes), startTimeUnixNano: kind === 'gauge' ? 0n : time, timeUnixNano: time, flags: 0 };
  const metric: OtlpMetric = {
    name: input.name,
    description: '',
    unit: input.unit ?? '',
    type: kind === 'gauge' ? 'gauge' : kind === 'counter' ? 'sum' : 'histogram',
    isMonotonic: kind === 'counter',
    temporality: kind === 'gauge' ? 0 : 1,
    points: [point],
  };
  if (kind !== 'histogram') {
    point.value = input.value;
    return metric;
  }
  let bucket = 0;
  while (bucket < DEFAULT_BOUNDS.length && input.value > (DEFAULT_BOUNDS[bucket] as number)) bucket++;
  const counts = NO_COUNTS.slice();
  counts[bucket] = 1n;
  point.count = 1n;
  point.sum = input.value;
  point.min = input.value;
  point.max = input.value;
  point.bucketCounts = counts;
  point.explicitBounds = DEFAULT_BOUNDS.slice();
  return metric;
}

/** The empty id of a record that names no trace or span, shared (never written to): no allocation per record. */
const NO_ID = new Uint8Array(0);

export function logOf(input: LogInput): OtlpLogRecord {
  const severity = input.severity ?? 'info';
  const traceId = input.traceId ?? '';
  const spanId = input.spanId ?? '';
  if (traceId !== '' && !/^[0-9a-fA-F]{32}$/.test(traceId)) throw new RecordError(`the trace id must be 32 hex characters, got ${show(traceId)}`);
  if (spanId !== '' && !/^[0-9a-fA-F]{16}$/.test(spanId)) throw new RecordError(`the span id must be 16 hex characters, got ${show(spanId)}`);
  const name = severity.toUpperCase() as SeverityName;
  return {
    timeUnixNano: timeOf(input.timestamp),
    observedTimeUnixNano: nowNanos(),
    severityNumber: severityNumber(name),
    severityText: name,
    body: input.message,
    attributes: flat(input.attributes),
    traceId: traceId === '' ? NO_ID : Buffer.from(traceId, 'hex'),
    spanId: spanId === '' ? NO_ID : Buffer.from(spanId, 'hex'),
    eventName: '',
  };
}

export function isSeverity(value: unknown): value is Severity {
  return typeof value === 'string' && (SEVERITIES as readonly string[]).includes(value.toLowerCase());
}

export function isMetricKind(value: unknown): value is MetricKind {
  return typeof value === 'string' && (METRIC_KINDS as readonly string[]).includes(value);
}

export function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
