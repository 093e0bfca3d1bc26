// Owns reading numeric flag values, with one error shape: which flag, what was given, what it accepts.

import { TelemetryError } from '../errors.js';

export interface NumberFlagOptions {
  /** Used when the flag is absent. */
  fallback?: number;
  min?: number;
  /** Only whole numbers (counts, limits); otherwise decimals are accepted too (durations). */
  whole?: boolean;
}

export function numberFlag(value: string | undefined, flag: string, options: NumberFlagOptions = {}): number {
  const min = options.min ?? 0;
  if (value === undefined) {
    if (options.fallback === undefined) throw new TelemetryError('E_CONFIG', `${flag} needs a value`);
    return options.fallback;
  }
  const shape = options.whole ? /^\d+$/ : /^\d+(\.\d+)?$/;
  const n = Number(value);
  if (!shape.test(value) || n < min) {
    throw new TelemetryError('E_CONFIG', `${flag} ${JSON.stringify(value)} is not a ${options.whole ? 'whole number' : 'number'} >= ${min}`);
  }
  return n;
}
