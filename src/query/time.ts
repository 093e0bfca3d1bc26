// Owns reading the time bounds users type: 15m, 1h, 7d, 2026-11-01, or a full ISO date-time.

import { TelemetryError } from '../errors.js';

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export const TIME_FORMS = '30s, 15m, 1h, 7d, 2w (that long ago), 2026-11-01 (a UTC day) or 2026-11-01T10:00:00Z';

/** A moment from a relative duration ("1h" = an hour before now) or an absolute date; E_CONFIG naming the flag otherwise. */
export function parseMoment(value: string, flag: string, now = Date.now()): Date {
  const relative = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(value.trim());
  if (relative) return new Date(now - Number(relative[1]) * (UNITS[relative[2] as string] as number));
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    const iso = value.trim().length === 10 ? `${value.trim()}T00:00:00Z` : value.trim().replace(' ', 'T');
    const at = Date.parse(/[Z+-]\d*:?\d*$/.test(iso.slice(10)) ? iso : `${iso}Z`);
    if (Number.isFinite(at)) return new Date(at);
  }
  throw new TelemetryError('E_CONFIG', `${flag} ${JSON.stringify(value)} is not a time: use ${TIME_FORMS}`);
}

/** DateTime64(3) text in UTC, for a bound {name:DateTime64(3, 'UTC')} parameter. */
export function toClickHouseTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}
