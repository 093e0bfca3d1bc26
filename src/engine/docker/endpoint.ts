// Owns deciding where the Docker API may be, in order: the explicit settings, the Docker CLI's context, then the well-known sockets. Pure.

import { createHash } from 'node:crypto';
import { posix, win32 } from 'node:path';
import { TelemetryError } from '../../errors.js';

/** TLS files for a tcp:// endpoint (paths; read when connecting), as the Docker CLI keeps them. */
export interface TlsMaterial {
  ca: string | undefined;
  cert: string | undefined;
  key: string | undefined;
  /** false for a context with SkipTLSVerify: encrypt, but accept any server certificate. */
  verify: boolean;
}

export interface DockerEndpoint {
  /** unix:///path/docker.sock, tcp://host:2376, npipe:////./pipe/docker_engine */
  host: string;
  /** Why this endpoint is considered, for people: "DOCKER_HOST", "docker context colima", "rootless Docker socket", … */
  source: string;
  /** An explicit choice (flag, DOCKER_HOST, a context) is the only one tried; a socket found lying around is one of several. */
  explicit: boolean;
  /** False for a well-known socket path with nothing there (it is reported, not tried). */
  present: boolean;
  tls: TlsMaterial | undefined;
}

export interface ResolveInputs {
  /** --docker-host */
  flag?: string | undefined;
  env: Record<string, string | undefined>;
  /** The user's home folder (os.homedir()). */
  home: string;
  platform: NodeJS.Platform;
  /** The user id, for /run/user/<uid> when XDG_RUNTIME_DIR is unset (undefined on Windows). */
  uid?: number | undefined;
  exists(path: string): boolean;
  /** A file's text, or undefined when there is no such file. */
  readFile(path: string): string | undefined;
}

const WINDOWS_PIPE = '//./pipe/docker_engine';

/** Every endpoint to consider, in the order to try them. An explicit setting, when there is one, is the whole list. */
export function dockerEndpoints(inputs: ResolveInputs): DockerEndpoint[] {
  const { env } = inputs;
  const path = inputs.platform === 'win32' ? win32 : posix;
  const dockerConfigDir = env.DOCKER_CONFIG || path.join(inputs.home, '.docker');

  const flag = inputs.flag?.trim();
  if (flag) return [explicit(checkHost(flag, '--docker-host'), '--docker-host', tlsFromEnv(flag, env, dockerConfigDir, path))];
  const fromEnv = env.DOCKER_HOST?.trim();
  if (fromEnv) return [explicit(checkHost(fromEnv, 'DOCKER_HOST'), 'DOCKER_HOST', tlsFromEnv(fromEnv, env, dockerConfigDir, path))];

  const context = contextEndpoint(inputs, dockerConfigDir, path);
  if (context) return [context];

  return wellKnownSockets(inputs, path).map(({ socket, source }) => ({
    host: inputs.platform === 'win32' ? `npipe://${socket}` : `unix://${socket}`,
    source,
    explicit: false,
    // A named pipe is not a file every Node version can stat: try it, a missing one fails at once.
    present: inputs.platform === 'win32' || inputs.exists(socket),
    tls: undefined,
  }));
}

function explicit(host: string, source: string, tls: TlsMaterial | undefined): DockerEndpoint {
  return { host, source, explicit: true, present: true, tls };
}

/** The sockets Docker, Docker Desktop, Colima, OrbStack and Podman listen on by default, most specific first. */
function wellKnownSockets(inputs: ResolveInputs, path: typeof posix): Array<{ socket: string; source: string }> {
  if (inputs.platform === 'win32') return [{ socket: WINDOWS_PIPE, source: 'Docker Desktop named pipe' }];
  const runtimeDir = inputs.env.XDG_RUNTIME_DIR || (inputs.platform === 'linux' && inputs.uid !== undefined ? `/run/user/${inputs.uid}` : undefined);
  const home = (...parts: string[]) => path.join(inputs.home, ...parts);
  return [
    ...(runtimeDir ? [{ socket: path.join(runtimeDir, 'docker.sock'), source: 'rootless Docker socket' }] : []),
    { socket: home('.docker', 'run', 'docker.sock'), source: 'Docker Desktop socket' },
    { socket: home('.docker', 'desktop', 'docker.sock'), source: 'Docker Desktop socket' },
    { socket: home('.colima', 'default', 'docker.sock'), source: 'Colima socket' },
    { socket: home('.orbstack', 'run', 'docker.sock'), source: 'OrbStack socket' },
    ...(runtimeDir ? [{ socket: path.join(runtimeDir, 'podman', 'podman.sock'), source: 'rootless Podman socket' }] : []),
    { socket: '/run/podman/podman.sock', source: 'Podman socket' },
    { socket: '/var/run/docker.sock', source: 'default Docker socket' },
  ];
}

/** The endpoint of DOCKER_CONTEXT, else of the Docker CLI's current context; undefined for the "default" context. */
function contextEndpoint(inputs: ResolveInputs, configDir: string, path: typeof posix): DockerEndpoint | undefined {
  let name = inputs.env.DOCKER_CONTEXT?.trim();
  let why = 'DOCKER_CONTEXT';
  if (!name) {
    const configFile = path.join(configDir, 'config.json');
    const text = inputs.readFile(configFile);
    if (text === undefined) return undefined;
    name = (parseJson(text, configFile) as { currentContext?: unknown }).currentContext as string | undefined;
    why = `currentContext in ${configFile}`;
    if (typeof name !== 'string' || name === '') return undefined;
  }
  if (name === 'default') return undefined;
  const id = createHash('sha256').update(name).digest('hex');
  const metaFile = path.join(configDir, 'contexts', 'meta', id, 'meta.json');
  const text = inputs.readFile(metaFile);
  if (text === undefined) {
    throw new TelemetryError('E_CONFIG', `Docker context "${name}" (${why}) does not exist: there is no ${metaFile}`, {
      hint: 'List the contexts with `docker context ls`, choose one with `docker context use <name>`, or set DOCKER_HOST or --docker-host.',
      details: { context: name, file: metaFile },
    });
  }
  const meta = parseJson(text, metaFile) as { Endpoints?: { docker?: { Host?: unknown; SkipTLSVerify?: unknown } } };
  const host = meta.Endpoints?.docker?.Host;
  if (typeof host !== 'string' || host === '') {
    throw new TelemetryError('E_CONFIG', `Docker context "${name}" has no Docker endpoint: ${metaFile} lacks Endpoints.docker.Host`, {
      hint: 'Recreate it with `docker context create <name> --docker host=…`, or set DOCKER_HOST or --docker-host.',
      details: { context: name, file: metaFile },
    });
  }
  const source = `docker context ${name} (${why === 'DOCKER_CONTEXT' ? 'DOCKER_CONTEXT' : 'docker context use'})`;
  const tlsDir = path.join(configDir, 'contexts', 'tls', id, 'docker');
  const file = (f: string) => (inputs.exists(path.join(tlsDir, f)) ? path.join(tlsDir, f) : undefined);
  const material = { ca: file('ca.pem'), cert: file('cert.pem'), key: file('key.pem') };
  const hasTls = material.ca !== undefined || material.cert !== undefined;
  return explicit(checkHost(host, `${metaFile} (Endpoints.docker.Host)`), source, hasTls ? { ...material, verify: meta.Endpoints?.docker?.SkipTLSVerify !== true } : undefined);
}

/** DOCKER_TLS_VERIFY with DOCKER_CERT_PATH (default <docker config>/), as the Docker CLI reads them, for tcp:// hosts. */
function tlsFromEnv(host: string, env: Record<string, string | undefined>, configDir: string, path: typeof posix): TlsMaterial | undefined {
  if (!host.startsWith('tcp://') || !env.DOCKER_TLS_VERIFY) return undefined;
  const dir = env.DOCKER_CERT_PATH || configDir;
  return { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem'), verify: true };
}

const SCHEMES = ['unix://', 'tcp://', 'npipe://', 'http://', 'https://'];

/** Refuses what we cannot connect to, naming where the value came from. */
function checkHost(host: string, where: string): string {
  if (host.startsWith('ssh://')) {
    throw new TelemetryError('E_CONFIG', `${where} is ${host}: Docker over ssh:// is not supported`, {
      hint: 'Forward the remote socket (`ssh -NL /tmp/remote-docker.sock:/var/run/docker.sock user@host`) and use unix:///tmp/remote-docker.sock.',
      details: { host },
    });
  }
  const scheme = SCHEMES.find((s) => host.startsWith(s));
  const network = scheme !== undefined && !['unix://', 'npipe://'].includes(scheme);
  if (!scheme || host.length === scheme.length || (network && !parsesAsUrl(host))) {
    throw new TelemetryError('E_CONFIG', `${where} is ${JSON.stringify(host)}, which is not a Docker endpoint`, {
      hint: 'Use unix:///path/to/docker.sock, tcp://host:port or npipe:////./pipe/docker_engine.',
      details: { host },
    });
  }
  return host;
}

function parsesAsUrl(host: string): boolean {
  try {
    const url = new URL(host.replace(/^tcp:/, 'http:'));
    return url.hostname !== '';
  } catch {
    return false;
  }
}

function parseJson(text: string, file: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    throw new Error('expected a JSON object');
  } catch (error) {
    throw new TelemetryError('E_CONFIG', `cannot read ${file}: ${(error as Error).message}`, {
      hint: 'Fix or remove the file (the Docker CLI reads it too), or set DOCKER_HOST or --docker-host.',
      details: { file },
    });
  }
}
