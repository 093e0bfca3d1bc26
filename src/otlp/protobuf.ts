// Owns OTLP's protobuf wire format: decoding ExportTraceServiceRequest and encoding responses, with protobufjs and the .proto files in proto/.

import { join } from 'node:path';
import protobuf from 'protobufjs';
import { packageRoot } from '../paths.js';
import type { FlatAttributes, OtlpSpan, OtlpTraceRequest } from './model.js';

let root: protobuf.Root | undefined;

function types() {
  if (!root) {
    const r = new protobuf.Root();
    const base = join(packageRoot(), 'proto');
    r.resolvePath = (_origin, target) => join(base, target);
    r.loadSync(['opentelemetry/proto/collector/trace/v1/trace_service.proto', 'google/rpc/status.proto'], { keepCase: false });
    r.resolveAll();
    root = r;
  }
  return {
    request: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
    response: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse'),
    status: root.lookupType('google.rpc.Status'),
  };
}

export class OtlpDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OtlpDecodeError';
  }
}

// The decoded message's fields, as protobufjs fills them (proto3 defaults applied on access).
interface PbAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: protobuf.Long | number;
  doubleValue?: number;
  arrayValue?: { values?: PbAnyValue[] };
  kvlistValue?: { values?: PbKeyValue[] };
  bytesValue?: Uint8Array;
  value?: string;
}
interface PbKeyValue {
  key: string;
  value?: PbAnyValue;
}
interface PbSpan {
  traceId: Uint8Array | number[];
  spanId: Uint8Array | number[];
  parentSpanId: Uint8Array | number[];
  name: string;
  kind: number;
  startTimeUnixNano: protobuf.Long | number;
  endTimeUnixNano: protobuf.Long | number;
  attributes?: PbKeyValue[];
  status?: { code?: number; message?: string };
}
interface PbRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: PbKeyValue[] };
    scopeSpans?: Array<{ scope?: { name?: string; version?: string }; spans?: PbSpan[] }>;
  }>;
}

/** Decodes a protobuf ExportTraceServiceRequest; throws OtlpDecodeError for bytes that are not one. */
export function decodeTraceRequest(body: Uint8Array): OtlpTraceRequest {
  let message: PbRequest;
  try {
    message = types().request.decode(body) as unknown as PbRequest;
  } catch (error) {
    throw new OtlpDecodeError(`body is not a valid protobuf ExportTraceServiceRequest: ${(error as Error).message}`);
  }
  return {
    resourceSpans: (message.resourceSpans ?? []).map((rs) => ({
      resource: flatten(rs.resource?.attributes),
      scopeSpans: (rs.scopeSpans ?? []).map((ss) => ({
        scopeName: ss.scope?.name ?? '',
        scopeVersion: ss.scope?.version ?? '',
        spans: (ss.spans ?? []).map(toSpan),
      })),
    })),
  };
}

function toSpan(span: PbSpan): OtlpSpan {
  return {
    traceId: bytes(span.traceId),
    spanId: bytes(span.spanId),
    parentSpanId: bytes(span.parentSpanId),
    name: span.name,
    kind: span.kind,
    startTimeUnixNano: toBigInt(span.startTimeUnixNano),
    endTimeUnixNano: toBigInt(span.endTimeUnixNano),
    attributes: flatten(span.attributes),
    status: { code: span.status?.code ?? 0, message: span.status?.message ?? '' },
  };
}

/** protobufjs leaves unset bytes fields as a shared empty array rather than a Uint8Array. */
function bytes(value: Uint8Array | number[] | undefined): Uint8Array {
  return value instanceof Uint8Array ? value : Uint8Array.from(value ?? []);
}

function toBigInt(value: protobuf.Long | number): bigint {
  return typeof value === 'number' ? BigInt(value) : BigInt(value.toString());
}

function flatten(list: PbKeyValue[] | undefined): FlatAttributes {
  const out: FlatAttributes = {};
  for (const kv of list ?? []) out[kv.key] = flatValue(kv.value);
  return out;
}

function flatValue(value: PbAnyValue | undefined): string {
  const plain = plainValue(value);
  return typeof plain === 'string' ? plain : JSON.stringify(plain);
}

type Plain = string | number | boolean | null | Plain[] | { [key: string]: Plain };

function plainValue(value: PbAnyValue | undefined): Plain {
  switch (value?.value) {
    case 'stringValue':
      return value.stringValue ?? '';
    case 'boolValue':
      return String(value.boolValue ?? false);
    case 'intValue':
      return String(value.intValue ?? 0);
    case 'doubleValue':
      return String(value.doubleValue ?? 0);
    case 'bytesValue':
      return Buffer.from(value.bytesValue ?? new Uint8Array()).toString('base64');
    case 'arrayValue':
      return (value.arrayValue?.values ?? []).map(plainValue);
    case 'kvlistValue': {
      const out: { [key: string]: Plain } = {};
      for (const kv of value.kvlistValue?.values ?? []) out[kv.key] = plainValue(kv.value);
      return out;
    }
    default:
      return '';
  }
}

/** Encodes a trace export request (what the SDK's OTLP backend sends); the inverse of decodeTraceRequest. */
export function encodeTraceRequest(request: OtlpTraceRequest): Uint8Array {
  const { request: type } = types();
  const kv = (attrs: FlatAttributes) => Object.entries(attrs).map(([key, value]) => ({ key, value: { stringValue: value } }));
  const object = {
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
          startTimeUnixNano: span.startTimeUnixNano.toString(),
          endTimeUnixNano: span.endTimeUnixNano.toString(),
          attributes: kv(span.attributes),
          status: { code: span.status.code, message: span.status.message },
        })),
      })),
    })),
  };
  return type.encode(type.fromObject(object)).finish();
}

/** Decodes an ExportTraceServiceResponse body: the partial success, if any. */
export function decodeTraceResponse(body: Uint8Array): { rejectedSpans: number; errorMessage: string } {
  const { response } = types();
  const message = response.decode(body) as unknown as { partialSuccess?: { rejectedSpans?: protobuf.Long | number; errorMessage?: string } };
  return { rejectedSpans: Number(message.partialSuccess?.rejectedSpans ?? 0), errorMessage: message.partialSuccess?.errorMessage ?? '' };
}

/** Decodes a google.rpc.Status body (OTLP failure responses). */
export function decodeStatus(body: Uint8Array): { code: number; message: string } {
  const { status } = types();
  const message = status.decode(body) as unknown as { code?: number; message?: string };
  return { code: message.code ?? 0, message: message.message ?? '' };
}

/** An ExportTraceServiceResponse; partial_success only when something was rejected (as the spec asks). */
export function encodeTraceResponse(rejectedSpans: number, errorMessage: string): Uint8Array {
  const { response } = types();
  const body = rejectedSpans > 0 || errorMessage !== '' ? { partialSuccess: { rejectedSpans, errorMessage } } : {};
  return response.encode(response.fromObject(body)).finish();
}

/** A google.rpc.Status, the body of an OTLP/HTTP failure response. */
export function encodeStatus(code: number, message: string): Uint8Array {
  const { status } = types();
  return status.encode(status.fromObject({ code, message })).finish();
}
