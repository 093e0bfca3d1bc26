// Owns OTLP/JSON (the protobuf JSON mapping with OTLP's rules: hex ids, integer enums, 64-bit ints as strings or numbers).

import type { FlatAttributes, OtlpScopeSpans, OtlpSpan, OtlpTraceRequest } from './model.js';
import { OtlpDecodeError } from './protobuf.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

/** Parses an OTLP/JSON ExportTraceServiceRequest; throws OtlpDecodeError naming the JSON path of the first problem. */
export function decodeTraceRequestJson(text: string): OtlpTraceRequest {
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch (error) {
    throw new OtlpDecodeError(`body is not valid JSON: ${(error as Error).message}`);
  }
  const top = object(doc, '$');
  return {
    resourceSpans: list(top.resourceSpans, '$.resourceSpans').map((rsJson, i) => {
      const path = `$.resourceSpans[${i}]`;
      const rs = object(rsJson, path);
      const resource = rs.resource === undefined || rs.resource === null ? {} : object(rs.resource, `${path}.resource`);
      return {
        resource: attributes(resource.attributes, `${path}.resource.attributes`),
        scopeSpans: list(rs.scopeSpans, `${path}.scopeSpans`).map((ss, j) => scopeSpans(ss, `${path}.scopeSpans[${j}]`)),
      };
    }),
  };
}

function scopeSpans(value: Json, path: string): OtlpScopeSpans {
  const ss = object(value, path);
  const scope = ss.scope === undefined || ss.scope === null ? {} : object(ss.scope, `${path}.scope`);
  return {
    scopeName: string(scope.name, `${path}.scope.name`),
    scopeVersion: string(scope.version, `${path}.scope.version`),
    spans: list(ss.spans, `${path}.spans`).map((s, k) => span(s, `${path}.spans[${k}]`)),
  };
}

function span(value: Json, path: string): OtlpSpan {
  const s = object(value, path);
  const status = s.status === undefined || s.status === null ? {} : object(s.status, `${path}.status`);
  return {
    traceId: hex(s.traceId, `${path}.traceId`),
    spanId: hex(s.spanId, `${path}.spanId`),
    parentSpanId: hex(s.parentSpanId, `${path}.parentSpanId`),
    name: string(s.name, `${path}.name`),
    kind: integer(s.kind, `${path}.kind`),
    startTimeUnixNano: uint64(s.startTimeUnixNano, `${path}.startTimeUnixNano`),
    endTimeUnixNano: uint64(s.endTimeUnixNano, `${path}.endTimeUnixNano`),
    attributes: attributes(s.attributes, `${path}.attributes`),
    status: { code: integer(status.code, `${path}.status.code`), message: string(status.message, `${path}.status.message`) },
  };
}

function attributes(value: Json | undefined, path: string): FlatAttributes {
  const out: FlatAttributes = {};
  list(value, path).forEach((kvJson, i) => {
    const kv = object(kvJson, `${path}[${i}]`);
    const key = string(kv.key, `${path}[${i}].key`);
    const plain = anyValue(kv.value, `${path}[${i}].value`);
    out[key] = typeof plain === 'string' ? plain : JSON.stringify(plain);
  });
  return out;
}

type Plain = string | Plain[] | { [key: string]: Plain };

function anyValue(value: Json | undefined, path: string): Plain {
  if (value === undefined || value === null) return '';
  const v = object(value, path);
  if (v.stringValue !== undefined) return string(v.stringValue, `${path}.stringValue`);
  if (v.boolValue !== undefined) {
    if (typeof v.boolValue !== 'boolean') fail(`${path}.boolValue`, 'a boolean', v.boolValue);
    return String(v.boolValue);
  }
  if (v.intValue !== undefined) return int64(v.intValue, `${path}.intValue`).toString();
  if (v.doubleValue !== undefined) {
    if (typeof v.doubleValue === 'number') return String(v.doubleValue);
    if (v.doubleValue === 'NaN' || v.doubleValue === 'Infinity' || v.doubleValue === '-Infinity') return v.doubleValue;
    fail(`${path}.doubleValue`, 'a number', v.doubleValue);
  }
  if (v.bytesValue !== undefined) {
    const b = string(v.bytesValue, `${path}.bytesValue`);
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(b)) fail(`${path}.bytesValue`, 'base64', v.bytesValue);
    return b;
  }
  if (v.arrayValue !== undefined) {
    const arr = object(v.arrayValue, `${path}.arrayValue`);
    return list(arr.values, `${path}.arrayValue.values`).map((item, i) => anyValue(item, `${path}.arrayValue.values[${i}]`));
  }
  if (v.kvlistValue !== undefined) {
    const kvl = object(v.kvlistValue, `${path}.kvlistValue`);
    const out: { [key: string]: Plain } = {};
    list(kvl.values, `${path}.kvlistValue.values`).forEach((kvJson, i) => {
      const kv = object(kvJson, `${path}.kvlistValue.values[${i}]`);
      out[string(kv.key, `${path}.kvlistValue.values[${i}].key`)] = anyValue(kv.value, `${path}.kvlistValue.values[${i}].value`);
    });
    return out;
  }
  return '';
}

function fail(path: string, expected: string, got: Json | undefined): never {
  const shown = JSON.stringify(got) ?? 'undefined';
  throw new OtlpDecodeError(`${path}: expected ${expected}, got ${shown.length > 40 ? `${shown.slice(0, 40)}…` : shown}`);
}

function object(value: Json | undefined, path: string): Obj {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(path, 'an object', value);
  return value;
}

function list(value: Json | undefined, path: string): Json[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(path, 'an array', value);
  return value;
}

function string(value: Json | undefined, path: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') fail(path, 'a string', value);
  return value;
}

function integer(value: Json | undefined, path: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value)) fail(path, 'an integer (OTLP/JSON enums are numbers)', value);
  return value;
}

function int64(value: Json, path: string): bigint {
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d{1,20}$/.test(value)) return BigInt(value);
  return fail(path, 'an integer or a string of digits', value);
}

function uint64(value: Json | undefined, path: string): bigint {
  if (value === undefined || value === null) return 0n;
  const n = int64(value, path);
  if (n < 0n || n > 0xffffffffffffffffn) fail(path, 'an unsigned 64-bit integer', value);
  return n;
}

function hex(value: Json | undefined, path: string): Uint8Array {
  const s = string(value, path);
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) fail(path, 'a hex string', value);
  return Buffer.from(s, 'hex');
}

/** Encodes a trace export request as OTLP/JSON (hex ids, 64-bit integers as strings, enums as integers). */
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
        })),
      })),
    })),
  });
}
