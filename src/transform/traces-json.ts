// Owns the receiver's fast path for OTLP/JSON traces: the parsed document straight to `traces` JSONEachRow text, for
// requests in the form exporters write (lowerCamelCase keys, hex ids, times as decimal strings, scalar attributes).
// Any other spelling, a span the transform would refuse, or events and links throw WireMismatch, and the caller takes
// the full reader (otlp/json.ts), which knows every form the mapping allows and names the JSON path of a problem.

import type { FlatAttributes } from '../otlp/model.js';
import { WireMismatch } from '../otlp/wire.js';
import { clampDuration } from './row.js';
import { spanRowText, type WireRows } from './traces-wire.js';
import { resourceText, setAttribute, startAttributes, type ResourceText } from './wire-rows.js';

type Obj = Record<string, unknown>;

/** Every span of the document as a `traces` row; throws WireMismatch when the full reader must decide. */
export function traceJsonToRows(text: string): WireRows {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new WireMismatch('not JSON');
  }
  const top = only(doc, TOP);
  const out: string[] = [];
  for (const group of list(top.resourceSpans)) {
    const rs = only(group, RESOURCE_SPANS);
    if (rs.schemaUrl !== undefined && typeof rs.schemaUrl !== 'string') throw new WireMismatch('schemaUrl');
    const resource = Object.create(null) as FlatAttributes;
    if (rs.resource !== undefined) {
      const r = only(rs.resource, RESOURCE);
      count(r.droppedAttributesCount);
      for (const kv of list(r.attributes)) {
        const [key, value] = keyValue(kv);
        resource[key] = value;
      }
    }
    const fixed = resourceText(resource);
    for (const scopeGroup of list(rs.scopeSpans)) {
      const ss = only(scopeGroup, SCOPE_SPANS);
      if (ss.scope !== undefined) scope(ss.scope);
      if (ss.schemaUrl !== undefined && typeof ss.schemaUrl !== 'string') throw new WireMismatch('schemaUrl');
      for (const span of list(ss.spans)) out.push(spanRow(only(span, SPAN), fixed));
    }
  }
  return { data: Buffer.from(out.join('')), rows: out.length };
}

const TOP = new Set(['resourceSpans']);
const RESOURCE_SPANS = new Set(['resource', 'scopeSpans', 'schemaUrl']);
const RESOURCE = new Set(['attributes', 'droppedAttributesCount']);
const SCOPE_SPANS = new Set(['scope', 'spans', 'schemaUrl']);
const SPAN = new Set([
  'traceId', 'spanId', 'parentSpanId', 'traceState', 'flags', 'name', 'kind', 'startTimeUnixNano', 'endTimeUnixNano',
  'attributes', 'droppedAttributesCount', 'events', 'droppedEventsCount', 'links', 'droppedLinksCount', 'status',
]);
const STATUS = new Set(['code', 'message']);
const SCOPE = new Set(['name', 'version', 'attributes', 'droppedAttributesCount']);

/** A scope, checked as the full reader would check it (its fields do not reach the rows). */
function scope(value: unknown): void {
  const { name = '', version = '', attributes, droppedAttributesCount } = only(value, SCOPE);
  if (typeof name !== 'string' || typeof version !== 'string') throw new WireMismatch('scope');
  for (const kv of list(attributes)) keyValue(kv);
  count(droppedAttributesCount);
}

/** An optional uint32 field. */
function count(value: unknown): void {
  if (value !== undefined && !(typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff)) throw new WireMismatch('count');
}
const ANY_VALUE = new Set(['stringValue', 'boolValue', 'intValue', 'doubleValue']);

/** An object whose keys are all known to the fast path (scope and schemaUrl are checked, not used, by the full reader). */
function only(value: unknown, keys: ReadonlySet<string>): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new WireMismatch('not an object');
  for (const key in value) if (!keys.has(key)) throw new WireMismatch(`key ${key}`);
  return value as Obj;
}

function list(value: unknown): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new WireMismatch('not an array');
  return value;
}

const HEX_32 = /^[0-9a-f]{32}$/;
const HEX_16 = /^[0-9a-f]{16}$/;
const ZERO_ID = /^0+$/;
/** Nanoseconds since the epoch as the exporters write them; 19 digits at most stay below 2^64. */
const NANOS = /^[0-9]{1,19}$/;

function spanRow(span: Obj, resource: ResourceText): string {
  const { traceId, spanId, parentSpanId = '', name = '', kind = 0, startTimeUnixNano, endTimeUnixNano = '0', status } = span;
  if (typeof traceId !== 'string' || !HEX_32.test(traceId) || ZERO_ID.test(traceId)) throw new WireMismatch('trace_id');
  if (typeof spanId !== 'string' || !HEX_16.test(spanId) || ZERO_ID.test(spanId)) throw new WireMismatch('span_id');
  if (typeof parentSpanId !== 'string' || (parentSpanId !== '' && !HEX_16.test(parentSpanId))) throw new WireMismatch('parent_span_id');
  if (typeof name !== 'string' || typeof kind !== 'number' || !Number.isInteger(kind) || kind < 0 || kind > 1000) throw new WireMismatch('name or kind');
  if (typeof startTimeUnixNano !== 'string' || typeof endTimeUnixNano !== 'string' || !NANOS.test(startTimeUnixNano) || !NANOS.test(endTimeUnixNano)) {
    throw new WireMismatch('times');
  }
  if (span.traceState !== undefined && typeof span.traceState !== 'string') throw new WireMismatch('traceState');
  for (const key of ['flags', 'droppedAttributesCount', 'droppedEventsCount', 'droppedLinksCount'] as const) count(span[key]);
  if (list(span.events).length > 0 || list(span.links).length > 0) throw new WireMismatch('events or links');
  // Milliseconds and the nanoseconds below them, each exact as a double.
  const startMs = Number(startTimeUnixNano.slice(0, -6) || '0');
  const startSub = Number(startTimeUnixNano.slice(-6));
  const endMs = Number(endTimeUnixNano.slice(0, -6) || '0');
  const endSub = Number(endTimeUnixNano.slice(-6));
  if (startMs === 0 && startSub === 0) throw new WireMismatch('start_time_unix_nano is missing');
  const hasEnd = endMs !== 0 || endSub !== 0;
  if (hasEnd && (endMs < startMs || (endMs === startMs && endSub < startSub))) throw new WireMismatch('end before start');
  let statusCode = 0;
  let statusMessage = '';
  if (status !== undefined) {
    const { code = 0, message = '' } = only(status, STATUS);
    if (typeof code !== 'number' || !Number.isInteger(code) || code < 0 || code > 1000 || typeof message !== 'string') throw new WireMismatch('status');
    statusCode = code;
    statusMessage = message;
  }
  startAttributes(resource);
  let ownProject = '';
  for (const kv of list(span.attributes)) {
    const [key, value] = keyValue(kv);
    setAttribute(key, value);
    if (key === 'project.name') ownProject = value;
  }
  const durationMs = hasEnd ? clampDuration(((endMs - startMs) * 1e6 + (endSub - startSub)) / 1e6) : 0;
  return `${spanRowText(traceId, spanId, parentSpanId, startMs, name, kind, statusCode, statusMessage, durationMs, resource, ownProject)}}\n`;
}

const KEY_VALUE = new Set(['key', 'value']);

/** A KeyValue with a scalar value, as the full reader flattens it. */
function keyValue(kv: unknown): [string, string] {
  const { key, value } = only(kv, KEY_VALUE);
  if (typeof key !== 'string') throw new WireMismatch('key');
  if (value === undefined) return [key, ''];
  const any = only(value, ANY_VALUE);
  let text = '';
  let seen = 0;
  for (const field in any) {
    seen++;
    const v = any[field];
    if (field === 'stringValue' && typeof v === 'string') text = v;
    else if (field === 'boolValue' && typeof v === 'boolean') text = v ? 'true' : 'false';
    else if (field === 'intValue' && typeof v === 'string' && /^(0|-?[1-9][0-9]{0,16})$/.test(v)) text = v;
    else if (field === 'intValue' && typeof v === 'number' && Number.isSafeInteger(v)) text = String(v);
    else if (field === 'doubleValue' && typeof v === 'number') text = String(v);
    else throw new WireMismatch(`AnyValue ${field}`);
  }
  if (seen > 1) throw new WireMismatch('AnyValue with more than one value');
  return [key, text];
}
