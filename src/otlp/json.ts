// Owns OTLP/JSON: the protobuf JSON mapping with OTLP's rules (hex trace and span ids, enums as numbers or names,
// 64-bit integers as strings or numbers, lowerCamelCase or original field names), read by reflection over the .proto
// types so every signal is read the same way.

import type protobuf from 'protobufjs';
import { countDataPoints, countLogRecords, countSpans, type FlatAttributes, type OtlpDataPoint, type OtlpLogsRequest, type OtlpMetric, type OtlpMetricsRequest, type OtlpTraceRequest } from './model.js';
import { readLogs, readMetrics, readTraces, type PbLogsRequest, type PbMetricsRequest, type PbTraceRequest } from './read.js';
import { OtlpDecodeError, SIGNAL_INFO, requestType, type Signal } from './types.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

/** Nested messages refused beyond this depth, as protobuf decoders do (protoc's default recursion limit). */
const MAX_DEPTH = 100;

/** OTLP/JSON carries these ids as hex, not base64 as plain protobuf JSON would. */
const HEX_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

/** Parses an OTLP/JSON ExportTraceServiceRequest; throws OtlpDecodeError naming the JSON path of the first problem. */
export function decodeTraceRequestJson(text: string): OtlpTraceRequest {
  const { message, unknown } = decodeJson('traces', text);
  return carriesData(readTraces(message as PbTraceRequest), countSpans, unknown, 'spans');
}

export function decodeLogsRequestJson(text: string): OtlpLogsRequest {
  const { message, unknown } = decodeJson('logs', text);
  return carriesData(readLogs(message as PbLogsRequest), countLogRecords, unknown, 'log records');
}

export function decodeMetricsRequestJson(text: string): OtlpMetricsRequest {
  const { message, unknown } = decodeJson('metrics', text);
  return carriesData(readMetrics(message as PbMetricsRequest), countDataPoints, unknown, 'data points');
}

/** A request that came out empty while the body had fields we did not know was most likely misspelt: say so. */
function carriesData<T>(request: T, count: (r: T) => number, unknown: string | undefined, items: string): T {
  if (unknown !== undefined && count(request) === 0) {
    throw new OtlpDecodeError(`${unknown}: unknown field, and the request carries no ${items} (fields are lowerCamelCase or as in the .proto files)`);
  }
  return request;
}

/**
 * Reads an OTLP/JSON export request into the shape protobufjs decodes to. Unknown fields are ignored (as the OTLP
 * spec asks of receivers), except when the body would then carry nothing at all: a body whose top-level keys are
 * all unknown is refused, so data under a misspelt name is never acknowledged and dropped.
 */
export function decodeJson(signal: Signal, text: string): { message: Record<string, unknown>; unknown: string | undefined } {
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch (error) {
    throw new OtlpDecodeError(`body is not valid JSON: ${(error as Error).message}`);
  }
  const type = requestType(signal);
  const top = object(doc, '$');
  const keys = Object.keys(top);
  if (keys.length > 0 && !keys.some((k) => fieldFor(type, k))) {
    const want = SIGNAL_INFO[signal].topField;
    fail('$', `an ${type.name} with "${want}" (or "${snake(want)}")`, `an object with keys ${keys.slice(0, 5).join(', ')}`);
  }
  const context: Context = { unknown: undefined };
  return { message: message(type, top, '$', 0, context), unknown: context.unknown };
}

/** The path of the first unknown field met while reading. */
interface Context {
  unknown: string | undefined;
}

/**
 * Where a value sits in the document, as links to its parent: the text ($.resourceSpans[0].…) is only built for an
 * error message, not for every field read.
 */
type Path = { up: Path | undefined; key: string | number } | '$';

function at(path: Path): string {
  if (path === '$') return '$';
  return `${at(path.up ?? '$')}${typeof path.key === 'number' ? `[${path.key}]` : `.${path.key}`}`;
}

const snakeCache = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();

function fieldFor(type: protobuf.Type, key: string): protobuf.Field | undefined {
  // Own properties only: "constructor" or "__proto__" in a body must not find Object.prototype's members.
  if (Object.prototype.hasOwnProperty.call(type.fields, key)) return type.fields[key];
  let bySnake = snakeCache.get(type);
  if (!bySnake) {
    bySnake = new Map(type.fieldsArray.map((f) => [snake(f.name), f]));
    snakeCache.set(type, bySnake);
  }
  return bySnake.get(key);
}

function snake(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function message(type: protobuf.Type, obj: Obj, path: Path, depth: number, context: Context): Record<string, unknown> {
  if (depth > MAX_DEPTH) {
    const text = at(path);
    throw new OtlpDecodeError(`${text.length > 80 ? `${text.slice(0, 80)}…` : text}: nested deeper than ${MAX_DEPTH} messages`);
  }
  const out: Record<string, unknown> = {};
  for (const key in obj) {
    const value = obj[key] as Json;
    const field = fieldFor(type, key);
    const here: Path = { up: path, key };
    if (!field) context.unknown ??= at(here);
    if (!field || value === null) continue;
    if (field.repeated) {
      const items = list(value, here);
      const converted = new Array<unknown>(items.length);
      for (let i = 0; i < items.length; i++) converted[i] = single(field, items[i] as Json, { up: here, key: i }, depth, context);
      out[field.name] = converted;
    } else {
      out[field.name] = single(field, value, here, depth, context);
    }
  }
  return out;
}

function single(field: protobuf.Field, value: Json, path: Path, depth: number, context: Context): unknown {
  const resolved = field.resolvedType;
  if (resolved && 'fields' in resolved) return message(resolved as protobuf.Type, object(value, path), path, depth + 1, context);
  if (resolved && 'values' in resolved) return enumValue(resolved as protobuf.Enum, value, path);
  switch (field.type) {
    case 'string':
      return string(value, path);
    case 'bool':
      if (typeof value !== 'boolean') fail(path, 'a boolean', value);
      return value;
    case 'bytes':
      return HEX_FIELDS.has(field.name) ? hex(value, path) : base64(value, path);
    case 'double':
    case 'float':
      return double(value, path);
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return int64(value, path, INT64_MIN, INT64_MAX);
    case 'uint64':
    case 'fixed64':
      return int64(value, path, 0n, UINT64_MAX);
    case 'uint32':
    case 'fixed32':
      return int32(value, path, 0, 2 ** 32 - 1);
    default:
      return int32(value, path, -(2 ** 31), 2 ** 31 - 1);
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

function int32(value: Json, path: Path, min: number, max: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d{1,10}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n)) return fail(path, 'an integer or a string of digits', value);
  if (n < min || n > max) fail(path, `an integer from ${min} to ${max}`, value);
  return n;
}

function enumValue(type: protobuf.Enum, value: Json, path: Path): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && type.values[value] !== undefined) return type.values[value] as number;
  return fail(path, `a number or one of ${type.name}'s names`, value);
}

function fail(path: Path, expected: string, got: Json | undefined | string): never {
  const shown = typeof got === 'string' && got.startsWith('an object with keys') ? got : (JSON.stringify(got) ?? 'undefined');
  throw new OtlpDecodeError(`${at(path)}: expected ${expected}, got ${shown.length > 60 ? `${shown.slice(0, 60)}…` : shown}`);
}

function object(value: Json | undefined, path: Path): Obj {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(path, 'an object', value);
  return value;
}

function list(value: Json, path: Path): Json[] {
  if (!Array.isArray(value)) fail(path, 'an array', value);
  return value;
}

function string(value: Json, path: Path): string {
  if (typeof value !== 'string') fail(path, 'a string', value);
  return value;
}

function double(value: Json, path: Path): number {
  if (typeof value === 'number') return value;
  if (value === 'NaN') return Number.NaN;
  if (value === 'Infinity') return Number.POSITIVE_INFINITY;
  if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
  if (typeof value === 'string' && /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value)) return Number(value);
  return fail(path, 'a number', value);
}

function int64(value: Json, path: Path, min: bigint, max: bigint): bigint {
  let n: bigint | undefined;
  if (typeof value === 'number' && Number.isInteger(value)) n = BigInt(value);
  else if (typeof value === 'string' && /^-?\d{1,20}$/.test(value)) n = BigInt(value);
  if (n === undefined) return fail(path, 'an integer or a string of digits', value);
  if (n < min || n > max) fail(path, `an integer from ${min} to ${max}`, value);
  return n;
}

function hex(value: Json, path: Path): Uint8Array {
  const s = string(value, path);
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) fail(path, 'a hex string', value);
  return Buffer.from(s, 'hex');
}

function base64(value: Json, path: Path): Uint8Array {
  const s = string(value, path);
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(s)) fail(path, 'base64', value);
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

/** Encodes a trace export request as OTLP/JSON (hex ids, 64-bit integers as strings, enums as integers), events and links included. */
export function encodeTraceRequestJson(request: OtlpTraceRequest): string {
  const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
  const kv = (attrs: FlatAttributes) => Object.entries(attrs).map(([key, value]) => ({ key, value: { stringValue: value } }));
  return JSON.stringify({
    resourceSpans: request.resourceSpans.map((rs) => ({
      resource: { attributes: kv(rs.resource) },
      scopeSpans: rs.scopeSpans.map((ss) => ({
        scope: { name: ss.scopeName, version: ss.scopeVersion },
        spans: ss.spans.map((span) => ({
          traceId: hexOf(span.traceId),
          spanId: hexOf(span.spanId),
          ...(span.parentSpanId.length > 0 ? { parentSpanId: hexOf(span.parentSpanId) } : {}),
          name: span.name,
          kind: span.kind,
          startTimeUnixNano: span.startTimeUnixNano.toString(),
          endTimeUnixNano: span.endTimeUnixNano.toString(),
          attributes: kv(span.attributes),
          status: { code: span.status.code, ...(span.status.message ? { message: span.status.message } : {}) },
          ...(span.events?.length ? { events: span.events.map((e) => ({ timeUnixNano: e.timeUnixNano.toString(), name: e.name, attributes: kv(e.attributes) })) } : {}),
          ...(span.links?.length ? { links: span.links.map((l) => ({ traceId: hexOf(l.traceId), spanId: hexOf(l.spanId), attributes: kv(l.attributes) })) } : {}),
        })),
      })),
    })),
  });
}

const kvJson = (attrs: FlatAttributes) => Object.entries(attrs).map(([key, value]) => ({ key, value: { stringValue: value } }));
const hexJson = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** JSON has no NaN or infinities; protobuf's JSON mapping writes them as these strings. */
const doubleJson = (n: number) => (Number.isFinite(n) ? n : Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity');

/** Encodes a logs export request as OTLP/JSON (bodies as string values). */
export function encodeLogsRequestJson(request: OtlpLogsRequest): string {
  return JSON.stringify({
    resourceLogs: request.resourceLogs.map((rl) => ({
      resource: { attributes: kvJson(rl.resource) },
      scopeLogs: rl.scopeLogs.map((sl) => ({
        scope: { name: sl.scopeName, version: sl.scopeVersion },
        logRecords: sl.logRecords.map((r) => ({
          timeUnixNano: r.timeUnixNano.toString(),
          observedTimeUnixNano: r.observedTimeUnixNano.toString(),
          severityNumber: r.severityNumber,
          ...(r.severityText ? { severityText: r.severityText } : {}),
          body: { stringValue: r.body },
          attributes: kvJson(r.attributes),
          ...(r.traceId.length > 0 ? { traceId: hexJson(r.traceId) } : {}),
          ...(r.spanId.length > 0 ? { spanId: hexJson(r.spanId) } : {}),
          ...(r.eventName ? { eventName: r.eventName } : {}),
        })),
      })),
    })),
  });
}

/** Encodes a metrics export request as OTLP/JSON. */
export function encodeMetricsRequestJson(request: OtlpMetricsRequest): string {
  const point = (p: OtlpDataPoint) => ({
    attributes: kvJson(p.attributes),
    startTimeUnixNano: p.startTimeUnixNano.toString(),
    timeUnixNano: p.timeUnixNano.toString(),
    ...(p.flags ? { flags: p.flags } : {}),
    ...(p.value !== undefined ? { asDouble: doubleJson(p.value) } : {}),
    ...(p.count !== undefined ? { count: p.count.toString() } : {}),
    ...(p.sum !== undefined ? { sum: doubleJson(p.sum) } : {}),
    ...(p.min !== undefined ? { min: doubleJson(p.min) } : {}),
    ...(p.max !== undefined ? { max: doubleJson(p.max) } : {}),
    ...(p.bucketCounts ? { bucketCounts: p.bucketCounts.map(String) } : {}),
    ...(p.explicitBounds ? { explicitBounds: p.explicitBounds.map(doubleJson) } : {}),
    ...(p.scale !== undefined ? { scale: p.scale } : {}),
    ...(p.zeroCount !== undefined ? { zeroCount: p.zeroCount.toString() } : {}),
    ...(p.positive ? { positive: { offset: p.positive.offset, bucketCounts: p.positive.bucketCounts.map(String) } } : {}),
    ...(p.negative ? { negative: { offset: p.negative.offset, bucketCounts: p.negative.bucketCounts.map(String) } } : {}),
    ...(p.quantiles ? { quantileValues: p.quantiles.map((q) => ({ quantile: q.quantile, value: doubleJson(q.value) })) } : {}),
  });
  const metric = (m: OtlpMetric) => {
    const dataPoints = m.points.map(point);
    const base = { name: m.name, ...(m.description ? { description: m.description } : {}), ...(m.unit ? { unit: m.unit } : {}) };
    switch (m.type) {
      case 'gauge':
        return { ...base, gauge: { dataPoints } };
      case 'sum':
        return { ...base, sum: { dataPoints, aggregationTemporality: m.temporality, isMonotonic: m.isMonotonic } };
      case 'histogram':
        return { ...base, histogram: { dataPoints, aggregationTemporality: m.temporality } };
      case 'exponential_histogram':
        return { ...base, exponentialHistogram: { dataPoints, aggregationTemporality: m.temporality } };
      case 'summary':
        return { ...base, summary: { dataPoints } };
      default:
        return base;
    }
  };
  return JSON.stringify({
    resourceMetrics: request.resourceMetrics.map((rm) => ({
      resource: { attributes: kvJson(rm.resource) },
      scopeMetrics: rm.scopeMetrics.map((sm) => ({ scope: { name: sm.scopeName, version: sm.scopeVersion }, metrics: sm.metrics.map(metric) })),
    })),
  });
}
