// Owns the row shape of the `traces` table, as every writer (receiver, SDK, CLI) produces it.

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
}

export const TRACE_COLUMNS = [
  'trace_id', 'span_id', 'parent_span_id', 'timestamp', 'service_name', 'span_name', 'span_kind', 'status_code',
  'status_message', 'duration_ms', 'project_name', 'project_version', 'environment', 'attributes',
] as const satisfies ReadonlyArray<keyof TraceRow>;

const UINT32_MAX = 4_294_967_295;

/** Milliseconds since the epoch as DateTime64(3) text in UTC. */
export function formatTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString();
  // 'YYYY-MM-DDTHH:MM:SS.sssZ' for years 0000-9999: swap the T, drop the Z.
  return iso.length === 24 ? `${iso.slice(0, 10)} ${iso.slice(11, 23)}` : iso.replace('T', ' ').replace('Z', '');
}

export function clampDuration(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) return 0;
  return Math.min(Math.round(ms), UINT32_MAX);
}

/** Rows as JSONEachRow bytes, ready for an insert. */
export function toJsonEachRow(rows: readonly TraceRow[]): Buffer {
  let text = '';
  for (const row of rows) text += `${JSON.stringify(row)}\n`;
  return Buffer.from(text);
}
