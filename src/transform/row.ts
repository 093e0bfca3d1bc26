// Owns the row shape of the `traces` table, as every writer (receiver, SDK, CLI) produces it, and the time and row
// encodings every signal's rows share.

export type StatusCode = 'OK' | 'ERROR';

export interface TraceRow {
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  /** UTC, 'YYYY-MM-DD hh:mm:ss.sss' (DateTime64(3, 'UTC')). */
  timestamp: string;
  service_name: string;
  span_name: string;
  span_kind: string;
  status_code: StatusCode;
  status_message: string;
  duration_ms: number;
  project_name: string;
  project_version: string;
  environment: string;
  attributes: Record<string, string>;
  /** Span events and links (schema version 2), present only when the span has some. */
  'events.timestamp'?: string[];
  'events.name'?: string[];
  'events.attributes'?: Array<Record<string, string>>;
  'links.trace_id'?: string[];
  'links.span_id'?: string[];
  'links.attributes'?: Array<Record<string, string>>;
}

export const TRACE_COLUMNS = [
  'trace_id', 'span_id', 'parent_span_id', 'timestamp', 'service_name', 'span_name', 'span_kind', 'status_code',
  'status_message', 'duration_ms', 'project_name', 'project_version', 'environment', 'attributes',
] as const satisfies ReadonlyArray<keyof TraceRow>;

/** The nested columns of span events and links (schema version 2); a row without them stores none. */
export const TRACE_NESTED_COLUMNS = [
  'events.timestamp', 'events.name', 'events.attributes', 'links.trace_id', 'links.span_id', 'links.attributes',
] as const satisfies ReadonlyArray<keyof TraceRow>;

/** The latest nanosecond DateTime64(9) holds (2262-04-11 23:47:16.854775807 UTC). */
export const MAX_NANOS = 2n ** 63n - 1n;

const UINT32_MAX = 4_294_967_295;

/** Milliseconds since the epoch as DateTime64(3) text in UTC. */
export function formatTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString();
  // 'YYYY-MM-DDTHH:MM:SS.sssZ' for years 0000-9999: swap the T, drop the Z.
  return iso.length === 24 ? `${iso.slice(0, 10)} ${iso.slice(11, 23)}` : iso.replace('T', ' ').replace('Z', '');
}

/** Nanoseconds since the epoch as DateTime64(9) text in UTC; callers keep it within 0..MAX_NANOS. */
export function formatNanos(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const base = formatTimestamp(Number(ms)).slice(0, 19);
  return `${base}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;
}

export function clampDuration(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) return 0;
  return Math.min(Math.round(ms), UINT32_MAX);
}

/** Rows as JSONEachRow bytes, ready for an insert. */
export function toJsonEachRow(rows: readonly object[]): Buffer {
  let text = '';
  for (const row of rows) text += `${JSON.stringify(row)}\n`;
  return Buffer.from(text);
}

/** An item (span, log record, data point) a transform refused, with why; the others are stored. */
export interface RejectedItem {
  /** Position of the item in the request, counting from 0 across all resource and scope groups. */
  index: number;
  name: string;
  reason: string;
}

/** What a transform returns for any signal: the rows to store and the items refused. */
export interface RowsResult<Row> {
  rows: Row[];
  rejected: RejectedItem[];
}
