// Owns reaching the Docker API: trying the endpoints endpoint.ts lists, with a ping deadline, naming what answers and what was tried.

import { existsSync, readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { homedir } from 'node:os';
import Docker from 'dockerode';
import { TelemetryError, describeError } from '../../errors.js';
import { dockerEndpoints, type DockerEndpoint, type ResolveInputs } from './endpoint.js';
import { runtimeOf, type ContainerRuntime } from './runtime.js';

/** How long an endpoint that answered a ping has to say what it is (/version). */
const VERSION_TIMEOUT_MS = 3_000;

export interface DockerTarget {
  docker: Docker;
  /** Where we connect, for messages: unix:///var/run/docker.sock, tcp://host:2375. */
  address: string;
  /** Why this address: DOCKER_HOST, docker context colima (docker context use), rootless Docker socket, … */
  source: string;
}

/** One endpoint considered, and what happened there. */
export interface EndpointAttempt {
  endpoint: string;
  source: string;
  /** "answered", "nothing there", or the error. */
  outcome: string;
}

export interface DockerConnection {
  target: DockerTarget;
  runtime: ContainerRuntime;
  /** Every endpoint considered, in order, the answering one last. */
  tried: EndpointAttempt[];
}

export interface FindOptions {
  /** --docker-host */
  flag?: string | undefined;
  env: NodeJS.ProcessEnv;
  /** How long each endpoint has to answer a ping. */
  timeoutMs: number;
}

/** The resolution inputs of this process: its environment, home folder, platform and file system. */
export function processInputs(flag: string | undefined, env: NodeJS.ProcessEnv): ResolveInputs {
  const home = (process.platform === 'win32' ? env.USERPROFILE : env.HOME) || homedir();
  return {
    flag,
    env,
    home,
    platform: process.platform,
    uid: process.getuid?.(),
    exists: (path) => existsSync(path),
    readFile: (path) => {
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return undefined;
      }
    },
  };
}

/** A Docker API client for an endpoint; TLS files are read here. */
export function clientFor(endpoint: Pick<DockerEndpoint, 'host' | 'tls'>): Docker {
  const { host, tls } = endpoint;
  if (host.startsWith('unix://')) return new Docker({ socketPath: host.slice('unix://'.length) });
  if (host.startsWith('npipe://')) return new Docker({ socketPath: host.slice('npipe://'.length) || '//./pipe/docker_engine' });
  const url = new URL(host.replace(/^tcp:/, tls ? 'https:' : 'http:'));
  const secure = url.protocol === 'https:';
  const port = Number(url.port || (secure ? 2376 : 2375));
  if (!secure) return new Docker({ host: url.hostname, port, protocol: 'http' });
  const read = (file: string | undefined) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new TelemetryError('E_CONFIG', `cannot read the TLS file ${file} for ${host}: ${describeError(error)}`, { cause: error, details: { file } });
    }
  };
  const material = { ca: read(tls?.ca), cert: read(tls?.cert), key: read(tls?.key) };
  const options = { host: url.hostname, port, protocol: 'https' as const, ...material };
  // SkipTLSVerify: still encrypted and still presenting the client certificate, but any server certificate is accepted.
  if (tls?.verify === false) return new Docker({ ...options, agent: new Agent({ ...material, rejectUnauthorized: false }) } as Docker.DockerOptions);
  return new Docker(options);
}

/**
 * Tries the endpoints in order and returns the first that answers, with what answers there (Docker or Podman).
 * An explicit endpoint (flag, DOCKER_HOST, a context) is the only one tried. Without one, `connection` is undefined
 * when nothing answered; `tried` says what was looked at either way.
 */
export async function findDocker(options: FindOptions): Promise<{ connection: DockerConnection | undefined; tried: EndpointAttempt[] }> {
  const tried: EndpointAttempt[] = [];
  for (const endpoint of dockerEndpoints(processInputs(options.flag, options.env))) {
    const attempt = { endpoint: endpoint.host, source: endpoint.source };
    if (!endpoint.present) {
      tried.push({ ...attempt, outcome: 'nothing there' });
      continue;
    }
    const target = { docker: clientFor(endpoint), address: endpoint.host, source: endpoint.source };
    try {
      await withDeadline(target.docker.ping(), options.timeoutMs);
      // It answered a ping: give /version (Docker or Podman?) longer than auto's short ping deadline, which a busy
      // Podman service can miss, so status does not call it Docker.
      const runtime = runtimeOf(await withDeadline(target.docker.version(), Math.max(options.timeoutMs, VERSION_TIMEOUT_MS)).catch(() => ({})));
      tried.push({ ...attempt, outcome: 'answered' });
      return { connection: { target, runtime, tried }, tried };
    } catch (error) {
      tried.push({ ...attempt, outcome: describeError(error) });
    }
  }
  return { connection: undefined, tried };
}

/** Like findDocker, but no answer is an error that lists every endpoint tried. */
export async function connectDocker(options: FindOptions): Promise<DockerConnection> {
  const { connection, tried } = await findDocker(options);
  if (connection) return connection;
  throw unavailable(tried);
}

export function unavailable(tried: EndpointAttempt[]): TelemetryError {
  const [only] = tried;
  const message =
    tried.length === 1 && only
      ? `no Docker engine answered at ${only.endpoint} (${only.source}): ${only.outcome}`
      : `no Docker engine answered; tried:\n${tried.map((t) => `  ${t.endpoint} (${t.source}): ${t.outcome}`).join('\n')}`;
  return new TelemetryError('E_DOCKER_UNAVAILABLE', message, {
    hint: 'Start Docker or Podman, or point --docker-host / DOCKER_HOST at a running engine (unix:///path/docker.sock, tcp://host:2375), or use --engine embedded.',
    details: { tried },
  });
}

/** Resolves when the engine answers a ping within `timeoutMs`; else E_DOCKER_UNAVAILABLE naming the endpoint. */
export async function ping(target: DockerTarget, timeoutMs: number): Promise<void> {
  try {
    await withDeadline(target.docker.ping(), timeoutMs);
  } catch (error) {
    throw unavailable([{ endpoint: target.address, source: target.source, outcome: describeError(error) }]);
  }
}

async function withDeadline<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)))]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
