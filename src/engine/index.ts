// Owns choosing the engine: the one that runs for this home, else --engine (auto = Docker when it answers a ping, else embedded).

import { readFile } from 'node:fs/promises';
import type { Config, ConfigFlags } from '../config/index.js';
import { DEFAULTS } from '../config/defaults.js';
import type { Engine } from './types.js';

export type { Engine, EngineStatus, HealthReport, HealthCheck, ServiceStatus, StartResult, StopResult, CleanResult, Removed } from './types.js';

export interface SelectOptions {
  flags?: ConfigFlags;
  env?: NodeJS.ProcessEnv;
}

/**
 * The engine a command acts on. An explicit --engine wins. With auto: the engine recorded as running for this home;
 * else Docker when its engine answers a ping, else the embedded engine. Each engine's module (dockerode, chDB's
 * servers) is imported only when that engine is chosen, so commands that never reach Docker never load it.
 */
export async function selectEngine(config: Config, options: SelectOptions = {}): Promise<Engine> {
  const env = options.env ?? process.env;
  const docker = async () => {
    const [{ DockerEngine }, { dockerTarget }] = await Promise.all([import('./docker/engine.js'), import('./docker/connect.js')]);
    return new DockerEngine(config, { target: dockerTarget(env), env, startTimeoutMs: config.dockerStartTimeoutMs });
  };
  const embedded = async () => new (await import('./embedded/index.js')).EmbeddedEngine(config, options.flags ?? {});
  if (config.engine === 'docker') return docker();
  if (config.engine === 'embedded') return embedded();
  const recorded = await readStateEngine(config.paths.stateFile);
  if (recorded === 'docker') return docker();
  if (recorded === 'embedded') return embedded();
  const { dockerAnswers, dockerTarget } = await import('./docker/connect.js');
  return (await dockerAnswers(dockerTarget(env), DEFAULTS.dockerPingTimeoutMs)) ? docker() : embedded();
}

/** The engine named in a home's state file (written while a stack runs), if any. */
export async function readStateEngine(stateFile: string): Promise<string | undefined> {
  const text = await readFile(stateFile, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  try {
    return (JSON.parse(text) as { engine?: string }).engine;
  } catch {
    return undefined;
  }
}
