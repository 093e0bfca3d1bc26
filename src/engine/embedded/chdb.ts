// Owns loading the optional `chdb` package, with an error that says how to get it.

import { TelemetryError } from '../../errors.js';

export type ChdbModule = typeof import('chdb');

let loaded: Promise<ChdbModule> | undefined;

export function loadChdb(): Promise<ChdbModule> {
  loaded ??= import('chdb').catch((error: unknown) => {
    loaded = undefined;
    throw new TelemetryError('E_CHDB_MISSING', 'the embedded engine needs the npm package "chdb", which is not installed', {
      cause: error,
      hint: 'Run `npm install chdb` next to automagik-telemetry (it is an optional dependency of about 550 MB).',
    });
  });
  return loaded;
}
