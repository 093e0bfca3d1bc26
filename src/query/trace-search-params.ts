// Owns reading a trace search from a query string: every filter checked, bounded and named when it is wrong.
import { TelemetryError } from '../errors.js';

export const SEARCH_RANGES: Readonly<Record<string, number>> = Object.freeze({
  '15m': 15 * 60_000,
  '1h': 3_600_000,
  '6h': 6 * 3_600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
});
export const SORT_KEYS = ['start', 'duration', 'spans', 'errors', 'root', 'service'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface AttributeFilter {
  key: string;
  value: string;
}

export interface TraceSearch {
  /** Epoch milliseconds, inclusive both ends. */
  from: number;
  to: number;
  /** The preset the window came from, or 'custom'. */
  range: string;
  service?: string;
  project?: string;
  environment?: string;
  /** Span name, exactly. */
  name?: string;
  status?: 'OK' | 'ERROR';
  /** Trace duration bounds in milliseconds, inclusive. */
  minMs?: number;
  maxMs?: number;
  attributes: AttributeFilter[];
  /** Free text, case-insensitive, over span names and attribute values. */
  text?: string;
  sort: SortKey;
  order: 'asc' | 'desc';
  limit: number;
  offset: number;
}

export const MAX_LIMIT = 200;
/** The widest window a search may span (the store keeps 90 days). */
export const MAX_RANGE_MS = 400 * 86_400_000;
export const MAX_OFFSET = 100_000;
export const MAX_ATTRIBUTE_FILTERS = 10;
const MAX_TEXT = 200;
const KNOWN = new Set(['range', 'from', 'to', 'service', 'project', 'environment', 'name', 'status', 'min_ms', 'max_ms', 'attr', 'q', 'sort', 'order', 'limit', 'page']);

/** A 400 for the API: the parameter and what it accepts. */
export function badParameter(parameter: string, message: string): TelemetryError {
  return new TelemetryError('E_BAD_REQUEST', `${parameter}: ${message}`, { details: { parameter } });
}

function text(params: URLSearchParams, name: string): string | undefined {
  const all = params.getAll(name);
  if (all.length > 1) throw badParameter(name, 'give it once');
  const value = all[0];
  if (value === undefined || value === '') return undefined;
  if (value.length > MAX_TEXT) throw badParameter(name, `at most ${MAX_TEXT} characters`);
  return value;
}

function whole(params: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const value = text(params, name);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw badParameter(name, `a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** Epoch milliseconds or an ISO 8601 date-time. */
function moment(params: URLSearchParams, name: string): number | undefined {
  const value = text(params, name);
  if (value === undefined) return undefined;
  const at = /^\d{1,15}$/.test(value) ? Number(value) : /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(at)) throw badParameter(name, `epoch milliseconds or an ISO 8601 date-time, got ${JSON.stringify(value)}`);
  return at;
}

function oneOf<T extends string>(params: URLSearchParams, name: string, allowed: readonly T[]): T | undefined {
  const value = text(params, name);
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw badParameter(name, `one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

export function parseTraceSearch(params: URLSearchParams, now = Date.now()): TraceSearch {
  for (const key of params.keys()) if (!KNOWN.has(key)) throw badParameter(key, `unknown parameter; known: ${[...KNOWN].join(', ')}`);
  const range = oneOf(params, 'range', Object.keys(SEARCH_RANGES)) ?? '1h';
  let from = moment(params, 'from');
  let to = moment(params, 'to');
  const custom = from !== undefined || to !== undefined;
  to ??= now;
  from ??= to - (SEARCH_RANGES[range] as number);
  if (from > to) throw badParameter('from', 'must be before to');
  if (to - from > MAX_RANGE_MS) throw badParameter('from', `the range can span at most ${MAX_RANGE_MS / 86_400_000} days`);
  const attributes: AttributeFilter[] = [];
  const attrs = params.getAll('attr').filter((a) => a !== '');
  if (attrs.length > MAX_ATTRIBUTE_FILTERS) throw badParameter('attr', `at most ${MAX_ATTRIBUTE_FILTERS} attribute filters`);
  for (const attr of attrs) {
    const eq = attr.indexOf('=');
    if (eq <= 0) throw badParameter('attr', `key=value, got ${JSON.stringify(attr.slice(0, 80))}`);
    if (attr.length > MAX_TEXT) throw badParameter('attr', `at most ${MAX_TEXT} characters`);
    attributes.push({ key: attr.slice(0, eq), value: attr.slice(eq + 1) });
  }
  const minMs = whole(params, 'min_ms', 0, 4_294_967_295);
  const maxMs = whole(params, 'max_ms', 0, 4_294_967_295);
  if (minMs !== undefined && maxMs !== undefined && minMs > maxMs) throw badParameter('min_ms', 'must not be above max_ms');
  const limit = whole(params, 'limit', 1, MAX_LIMIT) ?? 50;
  const page = whole(params, 'page', 1, Math.floor(MAX_OFFSET / limit) + 1) ?? 1;
  const search: TraceSearch = {
    from,
    to,
    range: custom ? 'custom' : range,
    attributes,
    sort: oneOf(params, 'sort', SORT_KEYS) ?? 'start',
    order: oneOf(params, 'order', ['asc', 'desc'] as const) ?? 'desc',
    limit,
    offset: (page - 1) * limit,
  };
  const optional = { service: text(params, 'service'), project: text(params, 'project'), environment: text(params, 'environment'), name: text(params, 'name'), text: text(params, 'q') };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) Object.assign(search, { [key]: value });
  const status = oneOf(params, 'status', ['OK', 'ERROR'] as const);
  if (status) search.status = status;
  if (minMs !== undefined) search.minMs = minMs;
  if (maxMs !== undefined) search.maxMs = maxMs;
  return search;
}
