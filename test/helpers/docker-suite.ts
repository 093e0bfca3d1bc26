import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectName } from '../../src/engine/docker/engine.js';
import { sameImage } from '../../src/engine/docker/runtime.js';
import { interpolate } from '../../src/engine/docker/stack.js';
import { templatePath } from '../../src/paths.js';
import { CLI, cli } from './cli.js';
import { buildStandIns, readFileIn, runOnNetwork, standIn, STANDIN_ENV, type TestEngine } from './docker.js';
import { makeTestHome, type TestHome } from './home.js';
import { freePort } from './ports.js';

/** A home whose stack runs on `engine`, with free ports and limits this sandbox allows. */
export async function engineHome(engine: TestEngine, extra: NodeJS.ProcessEnv = {}): Promise<TestHome> {
  return makeTestHome({
    ...engine.env,
    ...STANDIN_ENV,
    AUTOMAGIK_TELEMETRY_ENGINE: 'docker',
    AUTOMAGIK_TELEMETRY_CLICKHOUSE_NATIVE_PORT: String(await freePort()),
    AUTOMAGIK_TELEMETRY_OTLP_GRPC_PORT: String(await freePort()),
    AUTOMAGIK_TELEMETRY_COLLECTOR_HEALTH_PORT: String(await freePort()),
    AUTOMAGIK_TELEMETRY_DOCKER_START_TIMEOUT_MS: '30000',
    // This sandbox's engines may not raise the open-files and process limits (dockerd runs with
    // --default-ulimit nofile=1024:1024; Podman with the same in containers.conf).
    AUTOMAGIK_TELEMETRY_CLICKHOUSE_NOFILE: '1024',
    AUTOMAGIK_TELEMETRY_CLICKHOUSE_NPROC: '1024',
    ...extra,
  });
}

/**
 * The Docker engine's story, run against one container engine: test/docker.test.ts runs it on dockerd,
 * test/docker-podman.test.ts on Podman's Docker-compatible service.
 */
export function dockerStackSuite(engine: TestEngine): void {
  const { docker } = engine;
  const dockerHome = (extra: NodeJS.ProcessEnv = {}) => engineHome(engine, extra);
  const containersOf = async (home: TestHome) => {
    const list = await docker.listContainers({ all: true, filters: { label: [`com.automagik-telemetry.project=${projectName(home.home)}`] } });
    return new Map(list.map((c) => [c.Labels['com.automagik-telemetry.service'] ?? '', c]));
  };
  const available = engine.available;

  describe.skipIf(!available)(`the Docker stack on ${engine.runtime}, with stand-in images (no registry here)`, () => {
    let home: TestHome;

    beforeAll(async () => {
      await buildStandIns(docker);
      home = await dockerHome({ AUTOMAGIK_TELEMETRY_RETENTION_DAYS: '30' });
    }, 300_000);

    afterAll(async () => {
      await cli(['reset', '--yes'], home.env);
      await home.cleanup();
    });

    it('starts clickhouse, collector and grafana with health waits and progress, and reports them healthy', async () => {
      const result = await cli(['start'], home.env);
      expect(result.stderr).toContain('creating clickhouse');
      expect(result.stderr).toContain('waiting for grafana');
      expect(result.code).toBe(0);
      const status = JSON.parse((await cli(['status', '--json'], home.env)).stdout) as {
        engine: string;
        running: boolean;
        services: Array<{ name: string; state: string; image: string; ports: unknown[]; health?: string }>;
        docker: { endpoint: string; source: string; runtime: { name: string } };
      };
      expect(status).toMatchObject({ engine: 'docker', running: true });
      expect(status.docker).toMatchObject({ endpoint: engine.host, source: 'DOCKER_HOST', runtime: { name: engine.runtime } });
      // Docker runs healthchecks every 5 s; Podman (no systemd here to run them) has status run them on demand.
      const verdicts = engine.runtime === 'Podman' ? ['healthy'] : ['starting', 'healthy'];
      for (const name of ['clickhouse', 'grafana']) expect(verdicts, name).toContain(status.services.find((s) => s.name === name)?.health);
      expect(status.services.map((s) => [s.name, s.state, s.image])).toEqual([
        ['clickhouse', 'running', STANDIN_ENV.AUTOMAGIK_TELEMETRY_CLICKHOUSE_IMAGE],
        ['collector', 'running', STANDIN_ENV.AUTOMAGIK_TELEMETRY_COLLECTOR_IMAGE],
        ['grafana', 'running', STANDIN_ENV.AUTOMAGIK_TELEMETRY_GRAFANA_IMAGE],
      ]);
      const health = await cli(['health', '--json'], home.env);
      expect(health.code).toBe(0);
      const report = JSON.parse(health.stdout) as { healthy: boolean; checks: Array<{ name: string; ok: boolean }> };
      expect(report.checks.filter((c) => !c.ok)).toEqual([]);
      expect(report.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['clickhouse.http', 'collector.http', 'grafana.http']));
    });

    it('labels the containers with the project, publishes ports on 127.0.0.1 only, and gives each service its role from .env', async () => {
      const containers = await containersOf(home);
      const envText = await readFile(join(home.home, '.env'), 'utf8');
      const value = (key: string) => new RegExp(`^${key}=(\\S+)$`, 'm').exec(envText)?.[1];
      expect(/^GRAFANA_ADMIN_PASSWORD=\S+$/m.test(envText)).toBe(true);
      // ClickHouse's own user is the admin role; the collector holds ingest, Grafana reader: least privilege for each.
      const expected: Record<string, [string, string | undefined]> = {
        clickhouse: ['telemetry', value('CLICKHOUSE_PASSWORD')],
        collector: ['telemetry_ingest', value('CLICKHOUSE_INGEST_PASSWORD')],
        grafana: ['telemetry_reader', value('CLICKHOUSE_READER_PASSWORD')],
      };
      for (const [service, c] of containers) {
        expect(c.Labels['com.automagik-telemetry.project']).toBe(projectName(home.home));
        for (const p of c.Ports.filter((x) => x.PublicPort)) expect(p.IP, `${service} port ${p.PrivatePort}`).toBe('127.0.0.1');
        const inspect = await docker.getContainer(c.Id).inspect();
        const [user, password] = expected[service] ?? ['', ''];
        expect(password).toMatch(/\S{16,}/);
        expect(inspect.Config.Env).toContain(`CLICKHOUSE_USER=${user}`);
        expect(inspect.Config.Env).toContain(`CLICKHOUSE_PASSWORD=${password}`);
      }
    });

    it("applies the collector's route before the users it logs in as, with INSERT only for ingest, and the retention in every TTL", async () => {
      const id = (await containersOf(home)).get('clickhouse')?.Id ?? '';
      const statements = (await readFileIn(docker, id, '/var/lib/clickhouse/statements.log')).split('\n-- end\n').map((s) => s.trim());
      const at = (pattern: RegExp) => statements.findIndex((s) => pattern.test(s));
      expect(at(/^CREATE TABLE IF NOT EXISTS telemetry\.traces\b/)).toBeGreaterThanOrEqual(0);
      expect(at(/^CREATE TABLE IF NOT EXISTS telemetry\.otel_traces\b[\s\S]*ENGINE = Null$/)).toBeGreaterThan(at(/^CREATE TABLE IF NOT EXISTS telemetry\.traces\b/));
      expect(at(/^CREATE MATERIALIZED VIEW IF NOT EXISTS telemetry\.otel_metrics_summary_route\b/)).toBeLessThan(at(/^CREATE USER IF NOT EXISTS telemetry_ingest\b/));
      const ingestGrants = statements.filter((s) => /^GRANT .* TO telemetry_ingest$/.test(s));
      expect(ingestGrants.length).toBeGreaterThanOrEqual(10);
      for (const grant of ingestGrants) expect(grant).toMatch(/^GRANT INSERT ON telemetry\.\w+ TO telemetry_ingest$/);
      expect(statements.filter((s) => /^GRANT .* TO telemetry_reader$/.test(s))).toEqual(['GRANT SELECT ON telemetry.* TO telemetry_reader']);
      const ttls = statements.join('\n').match(/^TTL .*$/gm) ?? [];
      expect(ttls.length).toBeGreaterThanOrEqual(5);
      for (const ttl of ttls) expect(ttl).toMatch(/\+ INTERVAL 30 DAY$/);
      const status = JSON.parse((await cli(['status', '--json'], home.env)).stdout) as { retention: unknown };
      expect(status.retention).toEqual({ days: 30 });
    });

    it('puts the services on one network where they find each other by name (the collector writes to clickhouse:9000)', async () => {
      const containers = await containersOf(home);
      const network = projectName(home.home);
      const clickhouse = await docker.getContainer((containers.get('clickhouse') as { Id: string }).Id).inspect();
      const ip = clickhouse.NetworkSettings.Networks[network]?.IPAddress;
      expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      const answer = await runOnNetwork(docker, STANDIN_ENV.AUTOMAGIK_TELEMETRY_COLLECTOR_IMAGE, network, ['/bin/nslookup', 'clickhouse']);
      expect(answer).toMatch(new RegExp(`Address:\\s+${(ip as string).replace(/\./g, '\\.')}\\b`));
    });

    it('agrees with the reference docker-compose.yml: same services, images, ports, environment and mounts', async () => {
      const vars: Record<string, string> = { ...(home.env as Record<string, string>) };
      for (const line of (await readFile(join(home.home, '.env'), 'utf8')).split('\n')) {
        const m = /^([A-Z_]+)=(.*)$/.exec(line);
        if (m) vars[m[1] as string] = m[2] as string;
      }
      vars.AUTOMAGIK_TELEMETRY_HOST = '127.0.0.1';
      const compose = parse(interpolate(await readFile(templatePath('docker-compose.yml'), 'utf8'), vars)) as {
        services: Record<string, { image: string; environment: Record<string, string>; ports: string[]; volumes: string[]; command?: string[] }>;
      };
      const containers = await containersOf(home);
      expect([...containers.keys()].sort()).toEqual(Object.keys(compose.services).sort());
      for (const [name, spec] of Object.entries(compose.services)) {
        const inspect = await docker.getContainer((containers.get(name) as { Id: string }).Id).inspect();
        // Podman stores docker.io/-qualified names: the same image, spelt in full.
        expect(sameImage(inspect.Config.Image, spec.image), `${inspect.Config.Image} is ${spec.image}`).toBe(true);
        for (const [k, v] of Object.entries(spec.environment)) expect(inspect.Config.Env).toContain(`${k}=${v}`);
        const bindings = Object.entries(inspect.HostConfig.PortBindings ?? {}).map(([port, b]) => `${(b as Array<{ HostIp: string; HostPort: string }>)[0]?.HostIp}:${(b as Array<{ HostPort: string }>)[0]?.HostPort}:${port.replace('/tcp', '')}`);
        expect(bindings.sort()).toEqual([...spec.ports].sort());
        const mounts = (inspect.Mounts ?? []).map((m) => m.Destination).sort();
        expect(mounts).toEqual(spec.volumes.map((v) => v.split(':')[1]).sort());
        if (spec.command) expect(inspect.Config.Cmd).toEqual(spec.command);
      }
    });

    it('reuses running containers on a second start, and recreates only the one whose settings changed', async () => {
      const before = await containersOf(home);
      const again = await cli(['start'], home.env);
      expect(again.code).toBe(0);
      expect(again.stderr).toContain('already running');
      const same = await containersOf(home);
      for (const [name, c] of before) expect(same.get(name)?.Id).toBe(c.Id);

      await docker.getImage(STANDIN_ENV.AUTOMAGIK_TELEMETRY_GRAFANA_IMAGE).tag({ repo: 'amt-standin/grafana', tag: 'v2' });
      const changed = await cli(['start'], { ...home.env, AUTOMAGIK_TELEMETRY_GRAFANA_IMAGE: 'amt-standin/grafana:v2' });
      expect(changed.code).toBe(0);
      expect(changed.stderr).toContain('recreating grafana');
      const after = await containersOf(home);
      expect(after.get('clickhouse')?.Id).toBe(before.get('clickhouse')?.Id);
      expect(after.get('collector')?.Id).toBe(before.get('collector')?.Id);
      expect(after.get('grafana')?.Id).not.toBe(before.get('grafana')?.Id);
      expect(sameImage(after.get('grafana')?.Image ?? '', 'amt-standin/grafana:v2')).toBe(true);
    });

    it("sets Grafana's admin password from .env whenever its container is created, and not on a reused one", async () => {
      const envFile = join(home.home, '.env');
      const grafanaCalls = async () => {
        const id = (await containersOf(home)).get('grafana')?.Id ?? '';
        return (await readFileIn(docker, id, '/var/lib/grafana/cli-calls')).trim().split('\n');
      };
      // The first start created it: the generated password was set.
      const generated = /^GRAFANA_ADMIN_PASSWORD=(\S+)$/m.exec(await readFile(envFile, 'utf8'))?.[1];
      expect(await grafanaCalls()).toContain(`cli admin reset-admin-password ${generated}`);
      // A regenerated .env: the container is created again on the same volume, and the new password is set.
      await writeFile(envFile, (await readFile(envFile, 'utf8')).replace(/^GRAFANA_ADMIN_PASSWORD=.*$/m, 'GRAFANA_ADMIN_PASSWORD=a-new-password-42'));
      const changed = await cli(['start'], home.env);
      expect(changed.code, changed.stderr).toBe(0);
      expect(changed.stderr).toContain('recreating grafana');
      expect((await grafanaCalls()).at(-1)).toBe('cli admin reset-admin-password a-new-password-42');
      const count = (await grafanaCalls()).length;
      expect((await cli(['start'], home.env)).code).toBe(0);
      expect(await grafanaCalls()).toHaveLength(count);
    });

    it("shows a service's logs, demultiplexed, with --tail", async () => {
      const result = await cli(['logs', 'collector', '--tail', '50'], home.env);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('collector stand-in: args --config=/etc/otelcol-contrib/config.yaml');
      expect(result.stdout).not.toMatch(/[\x00-\x08]/);
      const all = await cli(['logs', '--tail', '500'], home.env);
      expect(all.stdout).toMatch(/^clickhouse +\| clickhouse stand-in listening on 8123$/m);
      expect(all.stdout).toMatch(/^grafana +\| grafana stand-in listening on 3000$/m);
    });

    it("follows a service's logs as new lines arrive, until Ctrl-C", async () => {
      const child = spawn(process.execPath, [CLI, 'logs', 'clickhouse', '--follow', '--tail', '0'], { env: { PATH: process.env.PATH, NO_COLOR: '1', ...home.env } });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
      // busybox httpd -v logs each answer: ask for /ping until such a line shows up in the followed stream.
      const deadline = Date.now() + 15_000;
      while (!/: response:200/.test(out) && Date.now() < deadline) {
        await fetch(`http://127.0.0.1:${home.env.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT}/ping`).then((r) => r.text(), (e: unknown) => (err += `fetch: ${String(e)}\n`));
        await new Promise((r) => setTimeout(r, 200));
      }
      child.kill('SIGINT');
      await closed;
      expect(out, err).toMatch(/: response:200/);
      expect(out).not.toMatch(/[\x00-\x08]/);
      expect(out).not.toContain('listening on 8123');
    });

    it('restarts one service and waits for it', async () => {
      const before = await containersOf(home);
      const result = await cli(['restart', 'collector'], home.env);
      expect(result.code).toBe(0);
      expect(result.stderr).toContain('collector restarted and answering');
      const after = await containersOf(home);
      expect(after.get('collector')?.Id).toBe(before.get('collector')?.Id);
      expect(after.get('collector')?.State).toBe('running');
    });

    it('stops the containers but keeps them and their data, then cleans containers and network but keeps volumes', async () => {
      const stopped = await cli(['stop'], home.env);
      expect(stopped.code).toBe(0);
      expect([...(await containersOf(home)).values()].map((c) => c.State)).toEqual(['exited', 'exited', 'exited']);
      expect((await cli(['status'], home.env)).code).toBe(3);
      const cleaned = await cli(['clean', '--json'], home.env);
      const removed = (JSON.parse(cleaned.stdout) as { removed: Array<{ kind: string; name: string }> }).removed;
      expect(removed.filter((r) => r.kind === 'container')).toHaveLength(3);
      expect(removed).toContainEqual({ kind: 'network', name: projectName(home.home) });
      expect((await containersOf(home)).size).toBe(0);
      const volumes = await docker.listVolumes({ filters: { label: [`com.automagik-telemetry.project=${projectName(home.home)}`] } });
      expect((volumes.Volumes ?? []).map((v) => v.Name).sort()).toEqual([`${projectName(home.home)}_clickhouse-data`, `${projectName(home.home)}_grafana-data`]);
    });

    it('refuses reset without a terminal unless --yes, then removes the volumes too', async () => {
      const refused = await cli(['reset'], home.env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('needs a confirmation, but there is no terminal');
      expect(refused.stderr).toContain('--yes');
      const reset = await cli(['reset', '--yes'], home.env);
      expect(reset.code).toBe(0);
      expect(reset.stdout).toContain(`removed volume ${projectName(home.home)}_clickhouse-data`);
      const volumes = await docker.listVolumes({ filters: { label: [`com.automagik-telemetry.project=${projectName(home.home)}`] } });
      expect(volumes.Volumes ?? []).toEqual([]);
    });
  });

  describe.skipIf(!available)(`a Docker start on ${engine.runtime} that cannot succeed`, () => {
    const homes: TestHome[] = [];
    beforeAll(async () => buildStandIns(docker), 300_000);
    afterAll(async () => {
      for (const h of homes) {
        await cli(['reset', '--yes'], h.env);
        await h.cleanup();
      }
    });
    const home = async (extra: NodeJS.ProcessEnv = {}) => {
      const h = await dockerHome(extra);
      homes.push(h);
      return h;
    };

    it('names the taken port and the process holding it', async () => {
      const port = await freePort();
      const blocker: Server = createServer();
      await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
      try {
        const h = await home({ AUTOMAGIK_TELEMETRY_DASHBOARD_PORT: String(port) });
        const result = await cli(['start'], h.env);
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(`port ${port} (grafana 3000) on 127.0.0.1 is already in use by process ${process.pid}`);
      } finally {
        blocker.close();
      }
    });

    it('names the container holding a port when it is one of ours', async () => {
      const first = await home();
      expect((await cli(['start'], first.env)).code).toBe(0);
      const second = await home({ AUTOMAGIK_TELEMETRY_OTLP_PORT: first.env.AUTOMAGIK_TELEMETRY_OTLP_PORT });
      const result = await cli(['start'], second.env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`port ${first.env.AUTOMAGIK_TELEMETRY_OTLP_PORT} (collector 4318) on 127.0.0.1 is already in use by container ${projectName(first.home)}-collector`);
      await cli(['reset', '--yes'], first.env);
    });

    it('names a missing image and says how to load it when no registry answers', async () => {
      const h = await home({ AUTOMAGIK_TELEMETRY_COLLECTOR_IMAGE: '127.0.0.1:1/amt/missing:none' });
      const result = await cli(['start'], h.env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('cannot pull image 127.0.0.1:1/amt/missing:none');
      expect(result.stderr).toContain(`${engine.runtime.toLowerCase()} load -i image.tar`);
    });

    it('shows the last log lines of a container that exits while starting', async () => {
      const h = await home({ AUTOMAGIK_TELEMETRY_GRAFANA_IMAGE: standIn('crash') });
      const result = await cli(['start'], h.env);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/grafana \(automagik-telemetry-\w+-grafana\) exited with code 3 while starting/);
      expect(result.stderr).toContain('fatal: cannot open /var/lib/grafana/grafana.db: permission denied');
    });

    it('gives up on a service whose health check never passes, naming it', async () => {
      const h = await home({ AUTOMAGIK_TELEMETRY_GRAFANA_IMAGE: standIn('mute'), AUTOMAGIK_TELEMETRY_DOCKER_START_TIMEOUT_MS: '2000' });
      const result = await cli(['start'], h.env);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/grafana did not answer within 2000 ms \(last: /);
      expect(result.stderr).toContain('listening, but /api/health is not served');
    });
  });
}
