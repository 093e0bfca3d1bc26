// Owns choosing the engine for a configuration. `auto` means embedded until the Docker engine lands.

import type { Config, ConfigFlags } from '../config/index.js';
import { EmbeddedEngine } from './embedded/index.js';
import type { Engine } from './types.js';

export type { Engine, EngineStatus, HealthReport, HealthCheck, StartResult, StopResult } from './types.js';

export function engineFor(config: Config, flags: ConfigFlags = {}): Engine {
  switch (config.engine) {
    case 'auto':
    case 'embedded':
      return new EmbeddedEngine(config, flags);
  }
}
