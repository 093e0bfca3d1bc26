// Owns trackMetric and trackLog's queued items: arguments checked, OTLP records built once (times and counter
// totals fixed at the call), scrubbed as their batch forms, and grouped into one OTLP request per batch.

import type { FlatAttributes, OtlpLogRecord, OtlpLogsRequest, OtlpMetric, OtlpMetricsRequest } from '../otlp/model.js';
import { isMetricKind, isSeverity, logOf, metricOf, show, type MetricKind, type Severity } from '../signals/records.js';
import { flattenAttributes, resourceAttributes, SCOPE_NAME, toEpochMs, type Attributes, type ResourceInfo } from './event.js';

export type { MetricKind, Severity } from '../signals/records.js';

export interface MetricOptions {
  /** 'gauge' (a reading, the default), 'counter' (an increment: sent as its series' running total) or 'histogram' (one observation). */
  type?: MetricKind;
  unit?: string;
  description?: string;
  attributes?: Attributes;
  /** When the value was read: a Date, epoch milliseconds or an ISO string. Now by default. */
  timestamp?: Date | number | string;
  /** Overrides the client's projectName for this point. */
  projectName?: string;
}

export interface LogOptions {
  /** 'info' by default. */
  severity?: Severity;
  attributes?: Attributes;
  /** 32 hex characters: the trace this line belongs to. */
  traceId?: string;
  /** 16 hex characters: the span this line belongs to. */
  spanId?: string;
  timestamp?: Date | number | string;
  projectName?: string;
}

export interface QueuedLog {
  signal: 'log';
  record: OtlpLogRecord;
  projectName: string | undefined;
  /** Set once the body and attributes went through the scrubber. */
  scrubbed?: boolean;
}

export interface QueuedMetric {
  signal: 'metric';
  metric: OtlpMetric;
  projectName: string | undefined;
  scrubbed?: boolean;
}

/** A counter's series (project, name, unit, attributes): when it started and its running total. */
export class CounterTotals {
  private readonly series = new Map<string, { start: bigint; total: number }>();

  /** Adds `increment` to the series and returns its total and start; the map stays bounded by the series an app has. */
  add(key: string, increment: number, time: bigint): { total: number; start: bigint } {
    const found = this.series.get(key);
    if (found) {
      found.total += increment;
      return found;
    }
    const fresh = { start: time, total: increment };
    if (this.series.size >= 10_000) this.series.delete(this.series.keys().next().value as string);
    this.series.set(key, fresh);
    return fresh;
  }
}

/** A value for a message, whatever it is (a BigInt, a symbol, an object whose toString throws): never throws. */
export function describe(value: unknown): string {
  try {
    if (typeof value === 'bigint') return `${value}n`;
    if (typeof value === 'number' || typeof value === 'symbol' || typeof value === 'function') return String(value);
    return show(value);
  } catch {
    return `a ${typeof value}`;
  }
}

function epochMs(value: Date | number | string | undefined): number {
  const ms = toEpochMs(value, Date.now());
  if (!Number.isFinite(ms) || ms < 0) throw new Error(`timestamp ${describe(value)} is not a date`);
  return ms;
}

/** Builds a metric point; throws a plain Error naming the bad argument. */
export function makeMetric(name: string, value: number, options: MetricOptions, counters: CounterTotals): QueuedMetric {
  if (typeof name !== 'string' || name === '') throw new Error('the metric name must be a non-empty string');
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`the value must be a finite number, got ${describe(value)}`);
  const kind = options.type ?? 'gauge';
  if (!isMetricKind(kind)) throw new Error(`type must be 'gauge', 'counter' or 'histogram', got ${describe(options.type)}`);
  if (options.unit !== undefined && typeof options.unit !== 'string') throw new Error(`unit must be a string, got ${describe(options.unit)}`);
  const attributes = flattenAttributes(options.attributes);
  const metric = metricOf({ name, value, kind, unit: options.unit, timestamp: options.timestamp === undefined ? undefined : epochMs(options.timestamp) });
  (metric.points[0] as OtlpMetric['points'][number]).attributes = attributes; // already flat: no second copy
  if (options.description) metric.description = options.description;
  if (kind === 'counter') {
    // As the OpenTelemetry SDKs send counters: the series' running total since its first point (a cumulative sum).
    const point = metric.points[0] as OtlpMetric['points'][number];
    let key = `${options.projectName ?? ''}\u0000${name}\u0000${metric.unit}`;
    for (const k of Object.keys(attributes).sort()) key += `\u0000${k}\u0001${attributes[k]}`;
    const { total, start } = counters.add(key, value, point.timeUnixNano);
    point.value = total;
    point.startTimeUnixNano = start;
    metric.temporality = 2;
  }
  return { signal: 'metric', metric, projectName: options.projectName };
}

/** Builds a log record; throws a plain Error naming the bad argument. */
export function makeLog(message: string, options: LogOptions): QueuedLog {
  if (typeof message !== 'string') throw new Error(`the message must be a string, got ${describe(message)}`);
  if (options.severity !== undefined && !isSeverity(options.severity)) throw new Error(`severity must be one of trace, debug, info, warn, error, fatal; got ${describe(options.severity)}`);
  if (options.traceId !== undefined && (typeof options.traceId !== 'string' || !/^[0-9a-fA-F]{32}$/.test(options.traceId))) throw new Error(`traceId must be 32 hex characters, got ${describe(options.traceId)}`);
  if (options.spanId !== undefined && (typeof options.spanId !== 'string' || !/^[0-9a-fA-F]{16}$/.test(options.spanId))) throw new Error(`spanId must be 16 hex characters, got ${describe(options.spanId)}`);
  const attributes = flattenAttributes(options.attributes);
  const record = logOf({
    message,
    severity: options.severity?.toLowerCase() as Severity | undefined,
    traceId: options.traceId,
    spanId: options.spanId,
    timestamp: options.timestamp === undefined ? undefined : epochMs(options.timestamp),
  });
  record.attributes = attributes; // already flat: no second copy
  return { signal: 'log', record, projectName: options.projectName };
}

function scrubAttributes(attributes: FlatAttributes, scrub: (text: string) => string): void {
  for (const key in attributes) attributes[key] = scrub(attributes[key] as string);
}

/** Scrubs a log line's body and attribute values, once, as its batch forms (before it is spooled or sent). */
export function prepareLog(item: QueuedLog, scrub: ((text: string) => string) | undefined): void {
  if (item.scrubbed || !scrub) return;
  item.record.body = scrub(item.record.body);
  scrubAttributes(item.record.attributes, scrub);
  item.scrubbed = true;
}

/** Scrubs a metric point's attribute values, once, as its batch forms. */
export function prepareMetric(item: QueuedMetric, scrub: ((text: string) => string) | undefined): void {
  if (item.scrubbed || !scrub) return;
  for (const point of item.metric.points) scrubAttributes(point.attributes, scrub);
  item.scrubbed = true;
}

function byProject<T extends { projectName: string | undefined }>(items: readonly T[], resource: ResourceInfo): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const project = item.projectName ?? resource.projectName;
    const list = groups.get(project);
    if (list) list.push(item);
    else groups.set(project, [item]);
  }
  return groups;
}

/** One OTLP logs request for a batch: a resource per project, the SDK as the instrumentation scope. */
export function buildLogsRequest(items: readonly QueuedLog[], resource: ResourceInfo, sdkVersion: string): OtlpLogsRequest {
  return {
    resourceLogs: [...byProject(items, resource)].map(([project, logs]) => ({
      resource: resourceAttributes(project, resource),
      scopeLogs: [{ scopeName: SCOPE_NAME, scopeVersion: sdkVersion, logRecords: logs.map((l) => l.record) }],
    })),
  };
}

/** One OTLP metrics request for a batch: each point its own metric entry, in the order tracked. */
export function buildMetricsRequest(items: readonly QueuedMetric[], resource: ResourceInfo, sdkVersion: string): OtlpMetricsRequest {
  return {
    resourceMetrics: [...byProject(items, resource)].map(([project, metrics]) => ({
      resource: resourceAttributes(project, resource),
      scopeMetrics: [{ scopeName: SCOPE_NAME, scopeVersion: sdkVersion, metrics: metrics.map((m) => m.metric) }],
    })),
  };
}
