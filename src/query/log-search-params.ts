// Owns reading a log search from a query string (GET /api/logs): every filter checked, bounded and named when wrong.
import { SEVERITY_NAMES, severityNumber, type SeverityName } from '../otlp/severity.js';
import { badParameter, onlyKnown, text, timeWindow, whole, type TimeWindow } from './search-params.js';
import type { TailCursor } from './tail.js';

export const MAX_LOG_LIMIT = 500;
export const MAX_LOG_OFFSET = 100_000;
const KNOWN = new Set(['range', 'from', 'to', 'severity', 'service', 'project', 'environment', 'trace_id', 'q', 'limit', 'page', 'tail']);
const TRACE_ID = /^[0-9a-f]{32}$/;

export interface LogSearch extends TimeWindow {
  /** The lowest severity number shown (WARN = 13 shows WARN, ERROR and FATAL). */
  minSeverity?: number;
  service?: string;
  project?: string;
  environment?: string;
  traceId?: string;
  /** Free text, case-insensitive, over the body and attribute keys and values. */
  text?: string;
  limit: number;
  offset: number;
  /** Live tail: records that arrived after this cursor, instead of a page of the window. */
  tail?: TailCursor;
}

/** A tail cursor as the API hands it out: base64url of [arrival, timestamp, row key]. */
export function encodeCursor(cursor: TailCursor): string {
  return Buffer.from(JSON.stringify([cursor.ci, cursor.ct, cursor.ck])).toString('base64url');
}

function decodeCursor(value: string): TailCursor {
  const wrong = () => badParameter('tail', 'a cursor as the previous answer gave it (its "cursor" field)');
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(value)) throw wrong();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    throw wrong();
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw wrong();
  const [ci, ct, ck] = parsed as unknown[];
  const time = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$/;
  if (typeof ci !== 'string' || typeof ct !== 'string' || typeof ck !== 'string' || !time.test(ci) || !time.test(ct) || !/^\d{0,20}$/.test(ck)) throw wrong();
  for (const t of [ci, ct]) if (!Number.isFinite(Date.parse(`${t.replace(' ', 'T')}Z`))) throw wrong();
  return { ci, ct, ck };
}

/** A severity name (trace, debug, info, warn, error, fatal; any case) or a number from 1 to 24. */
function severity(params: URLSearchParams): number | undefined {
  const value = text(params, 'severity');
  if (value === undefined) return undefined;
  const name = value.toUpperCase();
  if ((SEVERITY_NAMES as readonly string[]).includes(name)) return severityNumber(name as SeverityName);
  if (/^\d{1,2}$/.test(value) && Number(value) >= 1 && Number(value) <= 24) return Number(value);
  throw badParameter('severity', `one of ${SEVERITY_NAMES.map((n) => n.toLowerCase()).join(', ')} or a number from 1 to 24, got ${JSON.stringify(value.slice(0, 40))}`);
}

export function parseLogSearch(params: URLSearchParams, now = Date.now()): LogSearch {
  onlyKnown(params, KNOWN);
  const window = timeWindow(params, now);
  const limit = whole(params, 'limit', 1, MAX_LOG_LIMIT) ?? 100;
  const page = whole(params, 'page', 1, Math.floor(MAX_LOG_OFFSET / limit) + 1) ?? 1;
  const search: LogSearch = { ...window, limit, offset: (page - 1) * limit };
  const minSeverity = severity(params);
  if (minSeverity !== undefined) search.minSeverity = minSeverity;
  const traceId = text(params, 'trace_id')?.toLowerCase();
  if (traceId !== undefined) {
    if (!TRACE_ID.test(traceId)) throw badParameter('trace_id', `32 hex characters, got ${JSON.stringify(traceId.slice(0, 80))}`);
    search.traceId = traceId;
  }
  const optional = { service: text(params, 'service'), project: text(params, 'project'), environment: text(params, 'environment'), text: text(params, 'q') };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) Object.assign(search, { [key]: value });
  const tail = text(params, 'tail');
  if (tail !== undefined) search.tail = decodeCursor(tail);
  return search;
}
