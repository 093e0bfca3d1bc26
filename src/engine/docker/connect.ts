// Owns reaching the Docker engine: DOCKER_HOST or the default socket, a ping with a deadline, an error that says what was tried.

import Docker from 'dockerode';
import { TelemetryError } from '../../errors.js';

export interface DockerTarget {
  docker: Docker;
  /** Where we connect, for messages: unix:///var/run/docker.sock, tcp://host:2375. */
  address: string;
  /** Where the address came from. */
  source: 'DOCKER_HOST' | 'default socket';
}

export function dockerTarget(env: NodeJS.ProcessEnv): DockerTarget {
  const host = env.DOCKER_HOST;
  if (!host) return { docker: new Docker({ socketPath: '/var/run/docker.sock' }), address: 'unix:///var/run/docker.sock', source: 'default socket' };
  if (host.startsWith('unix://')) return { docker: new Docker({ socketPath: host.slice('unix://'.length) }), address: host, source: 'DOCKER_HOST' };
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  return { docker: new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: 'http' }), address: host, source: 'DOCKER_HOST' };
}

/** True when the engine answers a ping within `timeoutMs`. */
export async function dockerAnswers(target: DockerTarget, timeoutMs: number): Promise<boolean> {
  return ping(target, timeoutMs).then(
    () => true,
    () => false,
  );
}

export async function ping(target: DockerTarget, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      target.docker.ping(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
    ]);
  } catch (error) {
    throw new TelemetryError('E_DOCKER_UNAVAILABLE', `no Docker engine answered at ${target.address} (${target.source}): ${(error as Error).message}`, {
      cause: error,
      hint: 'Start Docker, or point DOCKER_HOST at a running engine (unix:///path/docker.sock or tcp://host:2375), or use --engine embedded.',
      details: { address: target.address, source: target.source },
    });
  } finally {
    if (timer) clearTimeout(timer);
  }
}
