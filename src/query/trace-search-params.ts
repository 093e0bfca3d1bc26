// Owns reading a trace search from a query string: every filter checked, bounded and named when it is wrong.
import { badParameter, MAX_TEXT, oneOf, onlyKnown, text, timeWindow, whole } from './search-params.js';

export { badParameter, MAX_RANGE_MS, SEARCH_RANGES } from './search-params.js';

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
export const MAX_OFFSET = 100_000;
export const MAX_ATTRIBUTE_FILTERS = 10;
const KNOWN = new Set(['range', 'from', 'to', 'service', 'project', 'environment', 'name', 'status', 'min_ms', 'max_ms', 'attr', 'q', 'sort', 'order', 'limit', 'page']);

export function parseTraceSearch(params: URLSearchParams, now = Date.now()): TraceSearch {
  onlyKnown(params, KNOWN);
  const { from, to, range } = timeWindow(params, now);
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
    range,
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
