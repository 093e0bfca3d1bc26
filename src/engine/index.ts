// Owns choosing the engine: the one that runs for this home, else --engine (auto = Docker when an endpoint answers, else embedded).

import type { Config, ConfigFlags } from '../config/index.js';
import { DEFAULTS } from '../config/defaults.js';
import { connectDocker, findDocker, type DockerConnection } from './docker/connect.js';
import { DockerEngine, readStateEngine } from './docker/engine.js';
import { EmbeddedEngine } from './embedded/index.js';
import { withDockerReport } from './report.js';
import type { Engine } from './types.js';

export type { Engine, EngineStatus, HealthReport, HealthCheck, ServiceStatus, StartResult, StopResult, CleanResult, DockerEndpointReport } from './types.js';
export { DockerEngine } from './docker/engine.js';
export { EmbeddedEngine } from './embedded/index.js';

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
 * status then lists the Docker endpoints tried.
 */
export async function selectEngine(config: Config, options: SelectOptions = {}): Promise<Engine> {
  const env = options.env ?? process.env;
  const docker = (connection: DockerConnection) => new DockerEngine(config, { target: connection.target, connection, env, startTimeoutMs: config.dockerStartTimeoutMs });
  const connect = async () => docker(await connectDocker({ flag: options.dockerHost, env, timeoutMs: EXPLICIT_PING_TIMEOUT_MS }));
  const embedded = () => new EmbeddedEngine(config, options.flags ?? {});
  if (config.engine === 'docker') return connect();
  if (config.engine === 'embedded') return embedded();
  const recorded = await readStateEngine(config.paths.stateFile);
  if (recorded === 'docker') return connect();
  if (recorded === 'embedded') return embedded();
  const { connection, tried } = await findDocker({ flag: options.dockerHost, env, timeoutMs: DEFAULTS.dockerPingTimeoutMs });
  return connection ? docker(connection) : withDockerReport(embedded(), { tried });
}
