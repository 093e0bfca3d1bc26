// Owns choosing the engine: the one that runs for this home, else --engine (auto = Docker when it answers a ping, else embedded).

import type { Config, ConfigFlags } from '../config/index.js';
import { DEFAULTS } from '../config/defaults.js';
import { dockerAnswers, dockerTarget } from './docker/connect.js';
import { DockerEngine, readStateEngine } from './docker/engine.js';
import { EmbeddedEngine } from './embedded/index.js';
import type { Engine } from './types.js';

export type { Engine, EngineStatus, HealthReport, HealthCheck, ServiceStatus, StartResult, StopResult, CleanResult } from './types.js';
export { DockerEngine } from './docker/engine.js';
export { EmbeddedEngine } from './embedded/index.js';

export interface SelectOptions {
  flags?: ConfigFlags;
  env?: NodeJS.ProcessEnv;
}

/**
 * The engine a command acts on. An explicit --engine wins. With auto: the engine recorded as running for this home;
 * else Docker when its engine answers a ping, else the embedded engine.
 */
export async function selectEngine(config: Config, options: SelectOptions = {}): Promise<Engine> {
  const env = options.env ?? process.env;
  const docker = () => new DockerEngine(config, { target: dockerTarget(env), env, startTimeoutMs: config.dockerStartTimeoutMs });
  const embedded = () => new EmbeddedEngine(config, options.flags ?? {});
  if (config.engine === 'docker') return docker();
  if (config.engine === 'embedded') return embedded();
  const recorded = await readStateEngine(config.paths.stateFile);
  if (recorded === 'docker') return docker();
  if (recorded === 'embedded') return embedded();
  return (await dockerAnswers(dockerTarget(env), DEFAULTS.dockerPingTimeoutMs)) ? docker() : embedded();
}
