import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clientFor } from '../src/engine/docker/connect.js';
import { dockerEndpoints, type ResolveInputs } from '../src/engine/docker/endpoint.js';
import { canonicalImage, refusedUlimit, runtimeOf, sameImage, stoppedWhileStarting } from '../src/engine/docker/runtime.js';
import { currentPlatform, embeddedUnsupported } from '../src/engine/embedded/platform.js';
import { withDockerReport } from '../src/engine/report.js';
import type { Engine } from '../src/engine/types.js';
import { TelemetryError } from '../src/errors.js';

/** A machine as the resolver sees it: environment, home, platform, and the files that exist. */
function machine(files: Record<string, string>, overrides: Partial<ResolveInputs> = {}): ResolveInputs {
  return {
    env: {},
    home: '/home/ada',
    platform: 'linux',
    uid: 1000,
    exists: (path) => path in files,
    readFile: (path) => files[path],
    ...overrides,
  };
}

const SOCKET = '';
const contextId = (name: string) => createHash('sha256').update(name).digest('hex');
const meta = (name: string, host: string, skipTlsVerify = false) =>
  JSON.stringify({ Name: name, Metadata: {}, Endpoints: { docker: { Host: host, SkipTLSVerify: skipTlsVerify } } });

describe('where the Docker API is looked for, in order', () => {
  it('lists the well-known sockets on Linux: rootless, Docker Desktop, Colima, OrbStack, Podman, then the default', () => {
    const list = dockerEndpoints(machine({}, { env: { XDG_RUNTIME_DIR: '/run/user/1000' } }));
    expect(list.map((e) => [e.host, e.source])).toEqual([
      ['unix:///run/user/1000/docker.sock', 'rootless Docker socket'],
      ['unix:///home/ada/.docker/run/docker.sock', 'Docker Desktop socket'],
      ['unix:///home/ada/.docker/desktop/docker.sock', 'Docker Desktop socket'],
      ['unix:///home/ada/.colima/default/docker.sock', 'Colima socket'],
      ['unix:///home/ada/.orbstack/run/docker.sock', 'OrbStack socket'],
      ['unix:///run/user/1000/podman/podman.sock', 'rootless Podman socket'],
      ['unix:///run/podman/podman.sock', 'Podman socket'],
      ['unix:///var/run/docker.sock', 'default Docker socket'],
    ]);
    expect(list.every((e) => !e.explicit && !e.present)).toBe(true);
  });

  it('marks the sockets that exist, so only those are tried', () => {
    const list = dockerEndpoints(machine({ '/home/ada/.colima/default/docker.sock': SOCKET, '/var/run/docker.sock': SOCKET }, { platform: 'darwin', uid: 501 }));
    expect(list.filter((e) => e.present).map((e) => e.source)).toEqual(['Colima socket', 'default Docker socket']);
  });

  it('finds the rootless socket under /run/user/<uid> when XDG_RUNTIME_DIR is unset', () => {
    const list = dockerEndpoints(machine({ '/run/user/1000/docker.sock': SOCKET }));
    expect(list.find((e) => e.present)).toMatchObject({ host: 'unix:///run/user/1000/docker.sock', source: 'rootless Docker socket' });
  });

  it('tries the docker_engine named pipe on Windows (a pipe cannot always be stat-ed, so it is always tried)', () => {
    const list = dockerEndpoints(machine({}, { platform: 'win32', home: 'C:\\Users\\ada', uid: undefined }));
    expect(list).toEqual([{ host: 'npipe:////./pipe/docker_engine', source: 'Docker Desktop named pipe', explicit: false, present: true, tls: undefined }]);
  });

  it("reads a Windows user's context store under %USERPROFILE%\\.docker", () => {
    const files = {
      'C:\\Users\\ada\\.docker\\config.json': JSON.stringify({ currentContext: 'desktop-linux' }),
      [`C:\\Users\\ada\\.docker\\contexts\\meta\\${contextId('desktop-linux')}\\meta.json`]: meta('desktop-linux', 'npipe:////./pipe/dockerDesktopLinuxEngine'),
    };
    expect(dockerEndpoints(machine(files, { platform: 'win32', home: 'C:\\Users\\ada', uid: undefined }))).toEqual([
      { host: 'npipe:////./pipe/dockerDesktopLinuxEngine', source: 'docker context desktop-linux (docker context use)', explicit: true, present: true, tls: undefined },
    ]);
  });

  it('takes --docker-host over DOCKER_HOST, and DOCKER_HOST over a context, each as the only endpoint', () => {
    const files = { '/home/ada/.docker/config.json': JSON.stringify({ currentContext: 'colima' }) };
    const env = { DOCKER_HOST: 'tcp://10.0.0.2:2375', DOCKER_CONTEXT: 'colima' };
    expect(dockerEndpoints(machine(files, { env, flag: 'unix:///tmp/x.sock' }))).toEqual([
      { host: 'unix:///tmp/x.sock', source: '--docker-host', explicit: true, present: true, tls: undefined },
    ]);
    expect(dockerEndpoints(machine(files, { env }))).toEqual([{ host: 'tcp://10.0.0.2:2375', source: 'DOCKER_HOST', explicit: true, present: true, tls: undefined }]);
  });

  it('reads TLS settings for DOCKER_HOST as the Docker CLI does (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH)', () => {
    const [endpoint] = dockerEndpoints(machine({}, { env: { DOCKER_HOST: 'tcp://build:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' } }));
    expect(endpoint?.tls).toEqual({ ca: '/certs/ca.pem', cert: '/certs/cert.pem', key: '/certs/key.pem', verify: true });
  });

  it("follows the Docker CLI's current context: config.json, then contexts/meta/<sha256 of name>/meta.json", () => {
    const files = {
      '/home/ada/.docker/config.json': JSON.stringify({ auths: {}, currentContext: 'colima' }),
      [`/home/ada/.docker/contexts/meta/${contextId('colima')}/meta.json`]: meta('colima', 'unix:///home/ada/.colima/default/docker.sock'),
    };
    expect(dockerEndpoints(machine(files))).toEqual([
      { host: 'unix:///home/ada/.colima/default/docker.sock', source: 'docker context colima (docker context use)', explicit: true, present: true, tls: undefined },
    ]);
  });

  it('takes DOCKER_CONTEXT over the current context, and DOCKER_CONFIG as the config folder', () => {
    const files = {
      '/etc/dk/config.json': JSON.stringify({ currentContext: 'colima' }),
      [`/etc/dk/contexts/meta/${contextId('remote')}/meta.json`]: meta('remote', 'tcp://remote:2376', true),
      [`/etc/dk/contexts/tls/${contextId('remote')}/docker/ca.pem`]: 'ca',
      [`/etc/dk/contexts/tls/${contextId('remote')}/docker/cert.pem`]: 'cert',
      [`/etc/dk/contexts/tls/${contextId('remote')}/docker/key.pem`]: 'key',
    };
    const [endpoint] = dockerEndpoints(machine(files, { env: { DOCKER_CONFIG: '/etc/dk', DOCKER_CONTEXT: 'remote' } }));
    const tls = `/etc/dk/contexts/tls/${contextId('remote')}/docker`;
    expect(endpoint).toEqual({
      host: 'tcp://remote:2376',
      source: 'docker context remote (DOCKER_CONTEXT)',
      explicit: true,
      present: true,
      tls: { ca: `${tls}/ca.pem`, cert: `${tls}/cert.pem`, key: `${tls}/key.pem`, verify: false },
    });
  });

  it('treats the "default" context, or none, as no choice: the sockets are searched', () => {
    const files = { '/home/ada/.docker/config.json': JSON.stringify({ currentContext: 'default' }) };
    expect(dockerEndpoints(machine(files))[0]?.explicit).toBe(false);
    expect(dockerEndpoints(machine({ '/home/ada/.docker/config.json': '{"auths":{}}' }))[0]?.explicit).toBe(false);
  });

  it('names a context that does not exist, and where it was chosen', () => {
    const files = { '/home/ada/.docker/config.json': JSON.stringify({ currentContext: 'gone' }) };
    expect(() => dockerEndpoints(machine(files))).toThrow(
      `Docker context "gone" (currentContext in /home/ada/.docker/config.json) does not exist: there is no /home/ada/.docker/contexts/meta/${contextId('gone')}/meta.json`,
    );
  });

  it('names a config.json that is not JSON, and a context without a Docker endpoint', () => {
    expect(() => dockerEndpoints(machine({ '/home/ada/.docker/config.json': '{"currentContext": ' }))).toThrow(/^cannot read \/home\/ada\/\.docker\/config\.json: /);
    const files = { [`/home/ada/.docker/contexts/meta/${contextId('k8s')}/meta.json`]: JSON.stringify({ Name: 'k8s', Endpoints: {} }) };
    expect(() => dockerEndpoints(machine(files, { env: { DOCKER_CONTEXT: 'k8s' } }))).toThrow(/Docker context "k8s" has no Docker endpoint: .*meta\.json lacks Endpoints\.docker\.Host/);
  });

  it('refuses endpoints it cannot reach, naming where they were set', () => {
    const error = (() => {
      try {
        dockerEndpoints(machine({}, { env: { DOCKER_HOST: 'ssh://ada@build' } }));
      } catch (e) {
        return e as TelemetryError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(TelemetryError);
    expect(error?.message).toBe('DOCKER_HOST is ssh://ada@build: Docker over ssh:// is not supported');
    expect(error?.hint).toContain('ssh -NL');
    expect(() => dockerEndpoints(machine({}, { flag: '/var/run/docker.sock' }))).toThrow('--docker-host is "/var/run/docker.sock", which is not a Docker endpoint');
    expect(() => dockerEndpoints(machine({}, { env: { DOCKER_HOST: 'tcp://[::1' } }))).toThrow('DOCKER_HOST is "tcp://[::1", which is not a Docker endpoint');
    expect(() => dockerEndpoints(machine({}, { env: { DOCKER_HOST: 'fd://' } }))).toThrow('DOCKER_HOST is "fd://", which is not a Docker endpoint');
    const files = { [`/home/ada/.docker/contexts/meta/${contextId('odd')}/meta.json`]: meta('odd', 'tcp://:2375') };
    expect(() => dockerEndpoints(machine(files, { env: { DOCKER_CONTEXT: 'odd' } }))).toThrow(/meta\.json \(Endpoints\.docker\.Host\) is "tcp:\/\/:2375", which is not a Docker endpoint/);
  });
});

describe('a client for each kind of endpoint', () => {
  const modem = (host: string, tls?: Parameters<typeof clientFor>[0]['tls']) => clientFor({ host, tls }).modem as unknown as Record<string, unknown>;

  it('talks to sockets and pipes by path, and to tcp:// over http on 2375 unless TLS is set', () => {
    expect(modem('unix:///run/user/1000/docker.sock')).toMatchObject({ socketPath: '/run/user/1000/docker.sock' });
    expect(modem('npipe:////./pipe/dockerDesktopLinuxEngine')).toMatchObject({ socketPath: '//./pipe/dockerDesktopLinuxEngine' });
    expect(modem('tcp://10.0.0.2')).toMatchObject({ host: '10.0.0.2', port: 2375, protocol: 'http' });
  });

  it('uses https on 2376 with the TLS files read, and names a TLS file it cannot read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'amt-tls-files-'));
    try {
      for (const f of ['ca.pem', 'cert.pem', 'key.pem']) await writeFile(join(dir, f), `${f} text`);
      const tls = { ca: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), verify: true };
      const m = modem('tcp://build.example', tls);
      expect(m).toMatchObject({ host: 'build.example', port: 2376, protocol: 'https' });
      expect(String(m.ca)).toBe('ca.pem text');
      expect(() => clientFor({ host: 'tcp://build.example', tls: { ...tls, key: join(dir, 'missing.pem') } })).toThrow(`cannot read the TLS file ${join(dir, 'missing.pem')} for tcp://build.example`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Docker and Podman behind the same API', () => {
  it('tells Podman from Docker by /version', () => {
    expect(runtimeOf({ Version: '4.3.1', ApiVersion: '1.41', Platform: { Name: 'linux/amd64/debian-12' }, Components: [{ Name: 'Podman Engine', Version: '4.3.1' }] })).toEqual({
      name: 'Podman',
      version: '4.3.1',
      apiVersion: '1.41',
    });
    expect(runtimeOf({ Version: '27.3.1', ApiVersion: '1.47', Platform: { Name: 'Docker Engine - Community' }, Components: [{ Name: 'Engine', Version: '27.3.1' }] })).toEqual({
      name: 'Docker',
      version: '27.3.1',
      apiVersion: '1.47',
    });
    expect(runtimeOf({}).name).toBe('Docker');
  });

  it("treats Podman's qualified image names as the short ones the compose file uses", () => {
    expect(canonicalImage('docker.io/grafana/grafana:11.4.0')).toBe('grafana/grafana:11.4.0');
    expect(canonicalImage('docker.io/library/busybox')).toBe('busybox:latest');
    expect(canonicalImage('localhost/amt-standin/clickhouse:t1')).toBe('amt-standin/clickhouse:t1');
    expect(canonicalImage('127.0.0.1:5000/team/img')).toBe('127.0.0.1:5000/team/img:latest');
    expect(sameImage('clickhouse/clickhouse-server:24.8', 'docker.io/clickhouse/clickhouse-server:24.8')).toBe(true);
    expect(sameImage('clickhouse/clickhouse-server:24.8', 'quay.io/clickhouse/clickhouse-server:24.8')).toBe(false);
  });

  it('sees a container stop while starting, whether Docker restarts it visibly or Podman silently', () => {
    expect(stoppedWhileStarting({ Running: true, Restarting: true, Status: 'restarting' }, 1, 0)).toBe(true);
    expect(stoppedWhileStarting({ Running: false, Restarting: false, Status: 'exited' }, 0, 0)).toBe(true);
    expect(stoppedWhileStarting({ Running: false, Restarting: false, Status: 'stopped' }, 0, 0)).toBe(true);
    expect(stoppedWhileStarting({ Running: true, Restarting: false, Status: 'running' }, 4, 0)).toBe(true);
    expect(stoppedWhileStarting({ Running: true, Restarting: false, Status: 'running' }, 2, 2)).toBe(false);
    expect(stoppedWhileStarting({ Running: false, Restarting: false, Status: 'created' }, 0, 0)).toBe(false);
  });

  it('names the limit a runtime refused from its error', () => {
    expect(refusedUlimit('error setting rlimit type 6: operation not permitted')).toBe('nproc');
    expect(refusedUlimit('error setting rlimit type 7: operation not permitted')).toBe('nofile');
    expect(refusedUlimit('no such image')).toBeUndefined();
  });
});

describe('where the embedded engine runs', () => {
  it('runs where chDB ships a build: Linux x64/arm64 with glibc, macOS x64/arm64', () => {
    for (const facts of [
      { platform: 'linux', arch: 'x64', libc: 'glibc' },
      { platform: 'linux', arch: 'arm64', libc: 'glibc' },
      { platform: 'darwin', arch: 'x64', libc: undefined },
      { platform: 'darwin', arch: 'arm64', libc: undefined },
    ] as const) {
      expect(embeddedUnsupported(facts), JSON.stringify(facts)).toBeUndefined();
    }
  });

  it.runIf(process.platform === 'linux')('reads the C library of this Linux (Debian here and in CI: glibc) from Node\'s report', () => {
    expect(currentPlatform()).toEqual({ platform: 'linux', arch: process.arch, libc: 'glibc' });
    expect((process.report as { excludeNetwork?: boolean }).excludeNetwork, 'left as it was').toBe(false);
  });

  it('explains Windows, Alpine (musl) and other CPUs, and points at the Docker engine', () => {
    const windows = embeddedUnsupported({ platform: 'win32', arch: 'x64', libc: undefined });
    expect(windows?.code).toBe('E_ENGINE_UNSUPPORTED');
    expect(windows?.message).toBe('the embedded engine does not run on Windows x64: chDB ships builds for Linux x64/arm64 (glibc) and macOS x64/arm64 only');
    expect(windows?.hint).toContain('--engine docker');
    expect(windows?.hint).toContain('WSL 2');
    const alpine = embeddedUnsupported({ platform: 'linux', arch: 'x64', libc: 'musl' });
    expect(alpine?.message).toContain('Linux x64 with musl');
    expect(alpine?.hint).toContain('glibc-based image');
    expect(embeddedUnsupported({ platform: 'linux', arch: 'riscv64', libc: 'glibc' })?.message).toContain('Linux riscv64 with glibc');
  });
});

describe('--engine auto on a platform without chDB and without Docker', () => {
  it("says both: the embedded engine's platform, and every Docker endpoint tried", async () => {
    // The embedded engine cannot be made to refuse here (this platform has chDB): a stand-in refuses as it would.
    const refusing = {
      name: 'embedded' as const,
      start: () => Promise.reject(embeddedUnsupported({ platform: 'linux', arch: 'x64', libc: 'musl' })),
    } as unknown as Engine;
    const tried = [
      { endpoint: 'unix:///run/user/1000/docker.sock', source: 'rootless Docker socket', outcome: 'nothing there' },
      { endpoint: 'unix:///var/run/docker.sock', source: 'default Docker socket', outcome: 'connect EACCES /var/run/docker.sock' },
    ];
    const error = (await withDockerReport(refusing, { tried }).start().catch((e: unknown) => e)) as TelemetryError;
    expect(error.code).toBe('E_ENGINE_UNSUPPORTED');
    expect(error.message).toBe(
      'the embedded engine does not run on Linux x64 with musl: chDB ships builds for Linux x64/arm64 (glibc) and macOS x64/arm64 only; ' +
        'and no Docker engine answered (--engine auto tried):\n' +
        '  unix:///run/user/1000/docker.sock (rootless Docker socket): nothing there\n' +
        '  unix:///var/run/docker.sock (default Docker socket): connect EACCES /var/run/docker.sock',
    );
    expect(error.hint).toContain('--engine docker');
    expect(error.details.tried).toEqual(tried);
  });
});
