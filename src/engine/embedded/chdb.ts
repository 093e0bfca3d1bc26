// Owns loading the optional `chdb` package, with an error that says how to get it.

import { TelemetryError } from '../../errors.js';

export type ChdbModule = typeof import('chdb');

let loaded: Promise<ChdbModule> | undefined;

/** The error for an install without chDB, with the fix. */
export function chdbMissing(cause: unknown): TelemetryError {
  return new TelemetryError('E_CHDB_MISSING', 'the embedded engine needs the npm package "chdb", which is not installed', {
    cause,
    hint: 'Run `npm install chdb` next to automagik-telemetry (an optional dependency, about 550 MB).',
  });
}

export function loadChdb(): Promise<ChdbModule> {
  loaded ??= import('chdb').catch((error: unknown) => {
    loaded = undefined;
    throw chdbMissing(error);
  });
  return loaded;
}
