import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { projectName } from '../src/engine/docker/engine.js';
import { buildStandIns, podmanEngine, standIn } from './helpers/docker.js';
import { dockerStackSuite, engineHome } from './helpers/docker-suite.js';
import { makeTestHome } from './helpers/home.js';

// The Docker engine's whole story again, against Podman's Docker-compatible API on a private socket.
const engine = await podmanEngine();
afterAll(() => engine.stop());

dockerStackSuite(engine);

describe.skipIf(!engine.available)('--engine auto on a machine where only Podman runs', () => {
  it('finds Podman at $XDG_RUNTIME_DIR/podman/podman.sock and names it in status', async () => {
    const user = await mkdtemp(join(tmpdir(), 'amt-user-'));
    await mkdir(join(user, 'run', 'podman'), { recursive: true });
    await symlink(engine.host.replace(/^unix:\/\//, ''), join(user, 'run', 'podman', 'podman.sock'));
    const home = await makeTestHome({ AUTOMAGIK_TELEMETRY_ENGINE: 'auto', HOME: user, XDG_RUNTIME_DIR: join(user, 'run') });
    try {
      const json = JSON.parse((await cli(['status', '--json'], home.env)).stdout) as { engine: string; docker: { endpoint: string; source: string; runtime: { name: string; version: string } } };
      expect(json.engine).toBe('docker');
      expect(json.docker).toMatchObject({ endpoint: `unix://${user}/run/podman/podman.sock`, source: 'rootless Podman socket', runtime: { name: 'Podman' } });
      expect(json.docker.runtime.version).toMatch(/^\d+\.\d+/);
      const text = await cli(['status'], home.env);
      expect(text.stdout).toContain(`Podman ${json.docker.runtime.version} at unix://${user}/run/podman/podman.sock (rootless Podman socket)`);
    } finally {
      await home.cleanup();
      await rm(user, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!engine.available)('an image built with Podman (stored as localhost/…)', () => {
  it('starts a service from it by its short name, without pulling, and shows that name', async () => {
    await buildStandIns(engine.docker);
    // What `podman build -t amt-local/grafana:built-here .` stores.
    await engine.docker.getImage(standIn('grafana')).tag({ repo: 'localhost/amt-local/grafana', tag: 'built-here' });
    const home = await engineHome(engine, { AUTOMAGIK_TELEMETRY_GRAFANA_IMAGE: 'amt-local/grafana:built-here' });
    try {
      const start = await cli(['start'], home.env);
      expect(start.code, start.stderr).toBe(0);
      expect(start.stderr).not.toContain('pulling');
      const status = JSON.parse((await cli(['status', '--json'], home.env)).stdout) as { services: Array<{ name: string; state: string; image: string }> };
      expect(status.services.find((s) => s.name === 'grafana')).toMatchObject({ state: 'running', image: 'amt-local/grafana:built-here' });
      const [grafana] = await engine.docker.listContainers({ filters: { label: [`com.automagik-telemetry.project=${projectName(home.home)}`, 'com.automagik-telemetry.service=grafana'] } });
      expect(grafana?.Image).toBe('localhost/amt-local/grafana:built-here');
    } finally {
      await cli(['reset', '--yes'], home.env);
      await home.cleanup();
    }
  });
});

describe.skipIf(!engine.available)('a Podman network without name resolution', () => {
  it('is refused at start, saying what to install, and clean removes it', async () => {
    const home = await engineHome(engine);
    const network = projectName(home.home);
    try {
      // What Podman's CNI backend creates when the dnsname plugin is missing.
      await new Promise<void>((resolve, reject) =>
        engine.docker.modem.dial(
          {
            path: '/v4.0.0/libpod/networks/create?',
            method: 'POST',
            statusCodes: { 200: true, 201: true },
            options: { name: network, driver: 'bridge', dns_enabled: false, labels: { 'com.automagik-telemetry.project': network } },
          },
          (error: unknown) => (error ? reject(error as Error) : resolve()),
        ),
      );
      const refused = await cli(['start'], home.env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`Podman's network ${network} has no DNS: the collector and Grafana could not reach clickhouse by name`);
      expect(refused.stderr).toContain('aardvark-dns');
      expect(refused.stderr).toContain('golang-github-containernetworking-plugin-dnsname');
      const cleaned = JSON.parse((await cli(['clean', '--json'], home.env)).stdout) as { removed: Array<{ kind: string; name: string }> };
      expect(cleaned.removed).toEqual([{ kind: 'network', name: network }]);
    } finally {
      await cli(['reset', '--yes'], home.env);
      await home.cleanup();
    }
  });
});
