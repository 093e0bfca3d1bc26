// Owns the JSON-lines format for logs and metrics that `send --stdin` reads next to events: a "type" field picks the kind.

import type { OtlpLogRecord, OtlpMetric } from '../otlp/model.js';
import { RecordError, isMetricKind, isSeverity, logOf, metricOf, show, type AttributeValue } from './records.js';

export const LINE_TYPES = ['event', 'metric', 'log'] as const;
export const METRIC_LINE_FIELDS = ['type', 'name', 'value', 'kind', 'unit', 'attributes', 'timestamp', 'project'] as const;
export const LOG_LINE_FIELDS = ['type', 'message', 'severity', 'attributes', 'trace_id', 'span_id', 'timestamp', 'project'] as const;

export type SignalLine = { type: 'metric'; project: string | undefined; metric: OtlpMetric } | { type: 'log'; project: string | undefined; record: OtlpLogRecord };

/** A parsed line: an event line to hand on (as text without "type"), or a log or metric. */
export type TypedLine = { type: 'event'; text: string } | SignalLine;

/** Reads a line that has a "type" field; throws RecordError saying which field is wrong. Lines that are not JSON objects are events (whose parser reports them). */
export function parseTypedLine(text: string): TypedLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { type: 'event', text };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { type: 'event', text };
  const record = value as Record<string, unknown>;
  const { type, ...rest } = record;
  if (type === undefined) return { type: 'event', text };
  if (type === 'event') return { type: 'event', text: JSON.stringify(rest) };
  if (type !== 'metric' && type !== 'log') throw new RecordError(`"type" must be one of ${LINE_TYPES.join(', ')}, got ${show(type)}`);
  const fields: readonly string[] = type === 'metric' ? METRIC_LINE_FIELDS : LOG_LINE_FIELDS;
  for (const key of Object.keys(record)) if (!fields.includes(key)) throw new RecordError(`unknown field "${key}" for a ${type} (fields: ${fields.join(', ')})`);
  const project = optionalString(record.project, 'project');
  const attributes = attributesOf(record.attributes);
  const timestamp = timestampOf(record.timestamp);
  if (type === 'metric') {
    if (typeof record.name !== 'string' || record.name === '') throw new RecordError(`"name" must be a non-empty string, got ${show(record.name)}`);
    if (typeof record.value !== 'number') throw new RecordError(`"value" must be a number, got ${show(record.value)}`);
    if (record.kind !== undefined && !isMetricKind(record.kind)) throw new RecordError(`"kind" must be gauge, counter or histogram, got ${show(record.kind)}`);
    const unit = optionalString(record.unit, 'unit');
    return {
      type,
      project,
      metric: metricOf({ name: record.name, value: record.value, ...(record.kind !== undefined ? { kind: record.kind } : {}), ...(unit !== undefined ? { unit } : {}), attributes, ...(timestamp !== undefined ? { timestamp } : {}) }),
    };
  }
  if (typeof record.message !== 'string') throw new RecordError(`"message" must be a string, got ${show(record.message)}`);
  if (record.severity !== undefined && !isSeverity(record.severity)) throw new RecordError(`"severity" must be one of trace, debug, info, warn, error, fatal, got ${show(record.severity)}`);
  const traceId = optionalString(record.trace_id, 'trace_id');
  const spanId = optionalString(record.span_id, 'span_id');
  return {
    type,
    project,
    record: logOf({
      message: record.message,
      ...(record.severity !== undefined ? { severity: record.severity.toLowerCase() as never } : {}),
      attributes,
      ...(traceId !== undefined ? { traceId } : {}),
      ...(spanId !== undefined ? { spanId } : {}),
      ...(timestamp !== undefined ? { timestamp } : {}),
    }),
  };
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new RecordError(`"${field}" must be a non-empty string, got ${show(value)}`);
  return value;
}

function attributesOf(value: unknown): Record<string, AttributeValue> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new RecordError(`"attributes" must be an object, got ${show(value)}`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new RecordError(`"attributes.${k}" must be a string, number or boolean, got ${show(v)}`);
  }
  return value as Record<string, AttributeValue>;
}

function timestampOf(value: unknown): string | number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' || typeof value === 'string') return value;
  throw new RecordError(`"timestamp" must be an ISO-8601 date or epoch milliseconds, got ${show(value)}`);
}
