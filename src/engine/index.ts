// Owns choosing the engine: the one that runs for this home, else --engine (auto = Docker when an endpoint answers, else embedded).

import type { Config, ConfigFlags } from '../config/index.js';
import { DEFAULTS } from '../config/defaults.js';
import type { DockerConnection } from './docker/connect.js';
import { readRunState } from './run-state.js';
import type { Engine } from './types.js';

export type { Engine, EngineStatus, HealthReport, HealthCheck, ServiceStatus, StartResult, StopResult, CleanResult, Removed, DockerEndpointReport } from './types.js';

/** How long an explicitly chosen Docker engine has to answer a ping. */
const EXPLICIT_PING_TIMEOUT_MS = 3_000;

export interface SelectOptions {
  flags?: ConfigFlags;
  env?: NodeJS.ProcessEnv;
  /** --docker-host: wins over DOCKER_HOST, the Docker context and the well-known sockets. */
  dockerHost?: string | undefined;
}

/**
 * The engine a command acts on. An explicit --engine wins. With auto: the engine recorded as running for this home;
 * else Docker when one of its endpoints (see docker/endpoint.ts) answers a ping, else the embedded engine, whose
 * status then lists the Docker endpoints tried. Each engine's module (dockerode, chDB's servers) is imported only
 * when that engine is chosen, so commands that never reach Docker never load it.
 */
export async function selectEngine(config: Config, options: SelectOptions = {}): Promise<Engine> {
  const env = options.env ?? process.env;
  const docker = async (connection: DockerConnection) => {
    const { DockerEngine } = await import('./docker/engine.js');
    return new DockerEngine(config, { target: connection.target, connection, env, startTimeoutMs: config.dockerStartTimeoutMs });
  };
  const connect = async () => {
    const { connectDocker } = await import('./docker/connect.js');
    return docker(await connectDocker({ flag: options.dockerHost, env, timeoutMs: EXPLICIT_PING_TIMEOUT_MS }));
  };
  const embedded = async () => new (await import('./embedded/index.js')).EmbeddedEngine(config, options.flags ?? {});
  if (config.engine === 'docker') return connect();
  if (config.engine === 'embedded') return embedded();
  const recorded = (await readRunState(config))?.engine;
  if (recorded === 'docker') return connect();
  if (recorded === 'embedded') return embedded();
  const [{ findDocker }, { withDockerReport }] = await Promise.all([import('./docker/connect.js'), import('./report.js')]);
  const { connection, tried } = await findDocker({ flag: options.dockerHost, env, timeoutMs: DEFAULTS.dockerPingTimeoutMs });
  return connection ? docker(connection) : withDockerReport(await embedded(), { tried });
}
