// Owns the decoded shape of an OTLP trace export, the same whether it arrived as protobuf or JSON.

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

export const STATUS_CODE_ERROR = 2;
export const SPAN_KIND_NAMES = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'] as const;

export function countSpans(request: OtlpTraceRequest): number {
  let n = 0;
  for (const rs of request.resourceSpans) for (const ss of rs.scopeSpans) n += ss.spans.length;
  return n;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
