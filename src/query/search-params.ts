// Owns reading the explorer API's query-string values: text, whole numbers, moments, choices and the time window,
// each checked and bounded, and a 400 naming the parameter when it is wrong.
import { TelemetryError } from '../errors.js';

export const SEARCH_RANGES: Readonly<Record<string, number>> = Object.freeze({
  '15m': 15 * 60_000,
  '1h': 3_600_000,
  '6h': 6 * 3_600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
});

/** The widest window a search may span (the store keeps 90 days). */
export const MAX_RANGE_MS = 400 * 86_400_000;
export const MAX_TEXT = 200;

export interface TimeWindow {
  /** Epoch milliseconds, inclusive both ends. */
  from: number;
  to: number;
  /** The preset the window came from, or 'custom'. */
  range: string;
}

/** A 400 for the API: the parameter and what it accepts. */
export function badParameter(parameter: string, message: string): TelemetryError {
  return new TelemetryError('E_BAD_REQUEST', `${parameter}: ${message}`, { details: { parameter } });
}

/** Refuses any parameter not in `known`. */
export function onlyKnown(params: URLSearchParams, known: ReadonlySet<string>): void {
  for (const key of params.keys()) if (!known.has(key)) throw badParameter(key, `unknown parameter; known: ${[...known].join(', ')}`);
}

export function text(params: URLSearchParams, name: string, max = MAX_TEXT): string | undefined {
  const all = params.getAll(name);
  if (all.length > 1) throw badParameter(name, 'give it once');
  const value = all[0];
  if (value === undefined || value === '') return undefined;
  if (value.length > max) throw badParameter(name, `at most ${max} characters`);
  return value;
}

export function whole(params: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const value = text(params, name);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw badParameter(name, `a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** Epoch milliseconds or an ISO 8601 date-time. */
export function moment(params: URLSearchParams, name: string): number | undefined {
  const value = text(params, name);
  if (value === undefined) return undefined;
  const at = /^\d{1,15}$/.test(value) ? Number(value) : /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(at)) throw badParameter(name, `epoch milliseconds or an ISO 8601 date-time, got ${JSON.stringify(value)}`);
  return at;
}

export function oneOf<T extends string>(params: URLSearchParams, name: string, allowed: readonly T[]): T | undefined {
  const value = text(params, name);
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw badParameter(name, `one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

/** `range` (a preset, default 1h) or `from`/`to` (a custom window; a missing `to` is now). */
export function timeWindow(params: URLSearchParams, now: number, defaultRange = '1h'): TimeWindow {
  const range = oneOf(params, 'range', Object.keys(SEARCH_RANGES)) ?? defaultRange;
  let from = moment(params, 'from');
  let to = moment(params, 'to');
  const custom = from !== undefined || to !== undefined;
  to ??= now;
  from ??= to - (SEARCH_RANGES[range] as number);
  if (from > to) throw badParameter('from', 'must be before to');
  if (to - from > MAX_RANGE_MS) throw badParameter('from', `the range can span at most ${MAX_RANGE_MS / 86_400_000} days`);
  return { from, to, range: custom ? 'custom' : range };
}
