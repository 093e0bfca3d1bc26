import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { dockerdEngine } from './helpers/docker.js';
import { makeTestHome, type TestHome } from './helpers/home.js';
import { startTlsDockerProxy, type TlsDockerProxy } from './helpers/tls-proxy.js';
import { toolAvailable } from './helpers/tools.js';

// A user who never set DOCKER_HOST: the engine is found through the Docker CLI's context, the rootless socket or
// Podman's socket path, each made here in a temporary HOME / XDG_RUNTIME_DIR and pointing at the test's dockerd.
const engine = await dockerdEngine();
const socket = engine.host.replace(/^unix:\/\//, '');
afterAll(() => engine.stop());
// The fallback cases need a machine without system-wide sockets (as here and in CI); elsewhere they do not run.
const systemSockets = ['/run/podman/podman.sock', '/var/run/docker.sock'].filter((p) => existsSync(p));
if (systemSockets.length > 0) console.warn(`\n!!! NOT RUNNING THE NO-ENGINE CASES: this machine has ${systemSockets.join(', ')}.\n`);

interface Status {
  engine: string;
  running: boolean;
  docker?: { endpoint?: string; source?: string; runtime?: { name: string; version: string }; tried: Array<{ endpoint: string; source: string; outcome: string }> };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** A stack home for `auto`, with a user home and runtime dir of its own and no DOCKER_HOST. */
async function userWithoutDockerHost(): Promise<{ home: TestHome; user: string; runtimeDir: string; env: NodeJS.ProcessEnv }> {
  const user = await mkdtemp(join(tmpdir(), 'amt-user-'));
  const runtimeDir = join(user, 'run');
  await mkdir(runtimeDir);
  const home = await makeTestHome({ AUTOMAGIK_TELEMETRY_ENGINE: 'auto', HOME: user, XDG_RUNTIME_DIR: runtimeDir });
  cleanups.push(async () => {
    await home.cleanup();
    await rm(user, { recursive: true, force: true });
  });
  return { home, user, runtimeDir, env: home.env };
}

/** Writes a Docker CLI context the way `docker context create` stores it. */
async function writeContext(configDir: string, name: string, host: string, tls?: { files: Record<string, string>; skipVerify: boolean }): Promise<void> {
  const id = createHash('sha256').update(name).digest('hex');
  await mkdir(join(configDir, 'contexts', 'meta', id), { recursive: true });
  const endpoint = { Host: host, SkipTLSVerify: tls?.skipVerify ?? false };
  await writeFile(join(configDir, 'contexts', 'meta', id, 'meta.json'), JSON.stringify({ Name: name, Metadata: { Description: 'test' }, Endpoints: { docker: endpoint } }));
  if (tls) {
    const dir = join(configDir, 'contexts', 'tls', id, 'docker');
    await mkdir(dir, { recursive: true });
    for (const [file, text] of Object.entries(tls.files)) await writeFile(join(dir, file), text);
  }
}

async function status(env: NodeJS.ProcessEnv, args: string[] = []): Promise<Status> {
  const result = await cli(['status', '--json', ...args], env);
  expect(result.stderr, 'status --json wrote to stderr').toBe('');
  return JSON.parse(result.stdout) as Status;
}

describe.skipIf(!engine.available)('--engine auto finds Docker where the user has it, without DOCKER_HOST', () => {
  it("follows the Docker CLI's current context (docker context use) in ~/.docker", async () => {
    const { user, env } = await userWithoutDockerHost();
    await mkdir(join(user, '.docker'));
    await writeFile(join(user, '.docker', 'config.json'), JSON.stringify({ auths: {}, currentContext: 'amt-test' }));
    await writeContext(join(user, '.docker'), 'amt-test', `unix://${socket}`);
    const s = await status(env);
    expect(s).toMatchObject({ engine: 'docker', running: false });
    expect(s.docker).toMatchObject({ endpoint: `unix://${socket}`, source: 'docker context amt-test (docker context use)', runtime: { name: 'Docker' } });
    expect(s.docker?.tried).toEqual([{ endpoint: `unix://${socket}`, source: 'docker context amt-test (docker context use)', outcome: 'answered' }]);
    const text = await cli(['status'], env);
    expect(text.stdout).toMatch(/^ {2}data +docker volumes \(created by the first start\)$/m);
    expect(text.stdout).toMatch(new RegExp(`docker +Docker [\\w.+~-]+ at unix://${socket.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(docker context amt-test \\(docker context use\\)\\)`));
  });

  it('takes DOCKER_CONTEXT, with the store under DOCKER_CONFIG', async () => {
    const { user, env } = await userWithoutDockerHost();
    const config = join(user, 'docker-config');
    await writeContext(config, 'other', `unix://${socket}`);
    const s = await status({ ...env, DOCKER_CONFIG: config, DOCKER_CONTEXT: 'other' });
    expect(s.docker).toMatchObject({ endpoint: `unix://${socket}`, source: 'docker context other (DOCKER_CONTEXT)' });
  });

  it('finds rootless Docker at $XDG_RUNTIME_DIR/docker.sock', async () => {
    const { runtimeDir, env } = await userWithoutDockerHost();
    await symlink(socket, join(runtimeDir, 'docker.sock'));
    const s = await status(env);
    expect(s).toMatchObject({ engine: 'docker' });
    expect(s.docker).toMatchObject({ endpoint: `unix://${runtimeDir}/docker.sock`, source: 'rootless Docker socket', runtime: { name: 'Docker' } });
  });

  it("finds a Podman socket path ($XDG_RUNTIME_DIR/podman/podman.sock) after the Docker ones, listing those it passed", async () => {
    const { user, runtimeDir, env } = await userWithoutDockerHost();
    await mkdir(join(runtimeDir, 'podman'));
    await symlink(socket, join(runtimeDir, 'podman', 'podman.sock'));
    const s = await status(env);
    expect(s.docker).toMatchObject({ endpoint: `unix://${runtimeDir}/podman/podman.sock`, source: 'rootless Podman socket' });
    expect(s.docker?.tried).toEqual([
      { endpoint: `unix://${runtimeDir}/docker.sock`, source: 'rootless Docker socket', outcome: 'nothing there' },
      { endpoint: `unix://${user}/.docker/run/docker.sock`, source: 'Docker Desktop socket', outcome: 'nothing there' },
      { endpoint: `unix://${user}/.docker/desktop/docker.sock`, source: 'Docker Desktop socket', outcome: 'nothing there' },
      { endpoint: `unix://${user}/.colima/default/docker.sock`, source: 'Colima socket', outcome: 'nothing there' },
      { endpoint: `unix://${user}/.orbstack/run/docker.sock`, source: 'OrbStack socket', outcome: 'nothing there' },
      { endpoint: `unix://${runtimeDir}/podman/podman.sock`, source: 'rootless Podman socket', outcome: 'answered' },
    ]);
  });

  it('takes --docker-host over DOCKER_HOST', async () => {
    const { env } = await userWithoutDockerHost();
    const s = await status({ ...env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' }, ['--docker-host', `unix://${socket}`]);
    expect(s.docker).toMatchObject({ endpoint: `unix://${socket}`, source: '--docker-host' });
  });

  it('reaches a TLS endpoint of a context with its certificates, and refuses a server its CA did not sign', async () => {
    const proxy: TlsDockerProxy = await startTlsDockerProxy(socket);
    cleanups.push(() => proxy.close());
    const { user, env } = await userWithoutDockerHost();
    const config = join(user, '.docker');
    await writeContext(config, 'tls', `tcp://127.0.0.1:${proxy.port}`, { files: proxy.clientFiles, skipVerify: false });
    const s = await status({ ...env, DOCKER_CONTEXT: 'tls' });
    expect(s.docker).toMatchObject({ endpoint: `tcp://127.0.0.1:${proxy.port}`, source: 'docker context tls (DOCKER_CONTEXT)', runtime: { name: 'Docker' } });
    expect(proxy.clientsSeen()).toContain('amt-test-client');

    await writeContext(config, 'wrong-ca', `tcp://127.0.0.1:${proxy.port}`, { files: { ...proxy.clientFiles, 'ca.pem': proxy.otherCa }, skipVerify: false });
    const refused = await status({ ...env, DOCKER_CONTEXT: 'wrong-ca' });
    expect(refused.engine).toBe('embedded');
    expect(refused.docker?.tried).toHaveLength(1);
    expect(refused.docker?.tried[0]?.outcome).toMatch(/self[- ]signed|unable to verify|certificate/i);
    const strict = await cli(['start', '--engine', 'docker', '--json'], { ...env, DOCKER_CONTEXT: 'wrong-ca' });
    const error = (JSON.parse(strict.stdout) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('E_DOCKER_UNAVAILABLE');
    expect(error.message).toMatch(/^no Docker engine answered at tcp:\/\/127\.0\.0\.1:\d+ \(docker context wrong-ca \(DOCKER_CONTEXT\)\): /);

    await writeContext(config, 'skip', `tcp://127.0.0.1:${proxy.port}`, { files: { ...proxy.clientFiles, 'ca.pem': proxy.otherCa }, skipVerify: true });
    expect((await status({ ...env, DOCKER_CONTEXT: 'skip' })).docker).toMatchObject({ endpoint: `tcp://127.0.0.1:${proxy.port}`, runtime: { name: 'Docker' } });
  });
});

describe.skipIf(!engine.available || !toolAvailable('docker', 'docker.io'))('a context made by the Docker CLI itself', () => {
  it('is followed after `docker context create` and `docker context use`, TLS files included', async () => {
    const proxy = await startTlsDockerProxy(socket);
    cleanups.push(() => proxy.close());
    const { user, env } = await userWithoutDockerHost();
    const files = join(user, 'certs');
    await mkdir(files);
    for (const [name, text] of Object.entries(proxy.clientFiles)) await writeFile(join(files, name), text);
    const config = join(user, '.docker');
    const docker = (...args: string[]) => execFileSync('docker', ['--config', config, ...args], { env: { PATH: process.env.PATH, HOME: user }, stdio: 'pipe' });
    docker('context', 'create', 'amt-cli', '--docker', `host=tcp://127.0.0.1:${proxy.port},ca=${join(files, 'ca.pem')},cert=${join(files, 'cert.pem')},key=${join(files, 'key.pem')}`);
    docker('context', 'use', 'amt-cli');
    const s = await status(env);
    expect(s).toMatchObject({ engine: 'docker' });
    expect(s.docker).toMatchObject({ endpoint: `tcp://127.0.0.1:${proxy.port}`, source: 'docker context amt-cli (docker context use)', runtime: { name: 'Docker' } });
    expect(proxy.clientsSeen()).toContain('amt-test-client');
  });
});

describe('what --engine auto says when it finds no Docker engine', () => {
  it.runIf(systemSockets.length === 0)('uses the embedded engine and lists each endpoint it tried with what happened', async () => {
    const { user, runtimeDir, env } = await userWithoutDockerHost();
    // A stale socket file, as a crashed rootless dockerd leaves behind.
    await writeFile(join(runtimeDir, 'docker.sock'), '');
    const s = await status(env);
    expect(s.engine).toBe('embedded');
    expect(s.docker?.endpoint).toBeUndefined();
    const tried = s.docker?.tried ?? [];
    expect(tried[0]).toMatchObject({ endpoint: `unix://${runtimeDir}/docker.sock`, source: 'rootless Docker socket' });
    expect(tried[0]?.outcome).toMatch(/ECONNREFUSED|ENOTSOCK|connect/);
    expect(tried[1]).toEqual({ endpoint: `unix://${user}/.docker/run/docker.sock`, source: 'Docker Desktop socket', outcome: 'nothing there' });
    expect(tried.map((t) => t.source)).toEqual([
      'rootless Docker socket',
      'Docker Desktop socket',
      'Docker Desktop socket',
      'Colima socket',
      'OrbStack socket',
      'rootless Podman socket',
      'Podman socket',
      'default Docker socket',
    ]);
    const text = await cli(['status'], env);
    expect(text.stdout).toContain('none answered, so the embedded engine; tried:');
    expect(text.stdout).toContain(`unix://${user}/.colima/default/docker.sock (Colima socket): nothing there`);

    const started = await cli(['start', '--json'], env);
    cleanups.push(async () => void (await cli(['stop'], env)));
    expect(started.code, started.stderr).toBe(0);
    const result = JSON.parse(started.stdout) as Status;
    expect(result).toMatchObject({ engine: 'embedded', running: true });
    expect(result.docker?.tried.map((t) => t.source)).toEqual(tried.map((t) => t.source));
  });

  it('refuses a current context that does not exist, naming it and the file that chose it', async () => {
    const { user, env } = await userWithoutDockerHost();
    await mkdir(join(user, '.docker'));
    await writeFile(join(user, '.docker', 'config.json'), JSON.stringify({ currentContext: 'vanished' }));
    const result = await cli(['status'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`Docker context "vanished" (currentContext in ${join(user, '.docker', 'config.json')}) does not exist`);
    expect(result.stderr).toContain('docker context ls');
  });

  it.runIf(systemSockets.length === 0)('says which endpoints it tried when --engine docker finds none', async () => {
    const { runtimeDir, env } = await userWithoutDockerHost();
    const result = await cli(['start', '--engine', 'docker'], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no Docker engine answered; tried:');
    expect(result.stderr).toContain(`unix://${runtimeDir}/docker.sock (rootless Docker socket): nothing there`);
    expect(result.stderr).toContain('unix:///var/run/docker.sock (default Docker socket): nothing there');
    expect(result.stderr).toContain('--docker-host');
  });
});
