// The Docker stack with TLS on: ClickHouse gets its HTTPS and secure native ports with the home's certificate, the
// collector's OTLP receivers a TLS config, Grafana https; certificates mounted read-only and readable by the
// containers' own users. The stand-in images speak no TLS, so end to end TLS is tested on the embedded engine
// (test/tls.test.ts); here: the definition, and what dockerd is really given.

import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { projectName } from '../src/engine/docker/engine.js';
import { loadStack } from '../src/engine/docker/stack.js';
import { withTls } from '../src/engine/docker/tls.js';
import { templatePath } from '../src/paths.js';
import { cli } from './helpers/cli.js';
import { dockerdEngine, buildStandIns } from './helpers/docker.js';
import { engineHome } from './helpers/docker-suite.js';
import { makeTestHome, type TestHome } from './helpers/home.js';
import { toolAvailable } from './helpers/tools.js';

const engine = await dockerdEngine();
const hasOpenssl = toolAvailable('openssl', 'openssl');

describe('the Docker stack definition with TLS on', () => {
  let home: TestHome;
  beforeAll(async () => (home = await makeTestHome({ AUTOMAGIK_TELEMETRY_TLS: '1' })));
  afterAll(async () => home.cleanup());

  const stack = async () => {
    const config = await loadConfig({ env: home.env });
    const vars = { CLICKHOUSE_PASSWORD: 'a', CLICKHOUSE_INGEST_PASSWORD: 'b', CLICKHOUSE_READER_PASSWORD: 'c', GRAFANA_ADMIN_PASSWORD: 'd', AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT: '18123' };
    const services = withTls(await loadStack(templatePath('docker-compose.yml'), vars), config).services;
    return { tlsDir: join(config.home, 'docker', 'tls'), byName: Object.fromEntries(services.map((s) => [s.name, s])) };
  };

  it('ClickHouse: the host reaches HTTPS (8443) and secure native (9440) instead of 8123 and 9000; config.d and certs mounted read-only', async () => {
    const { byName, tlsDir } = await stack();
    const ch = byName.clickhouse;
    expect(ch?.ports.map((p) => [p.hostPort, p.containerPort])).toEqual([[18123, 8443], [9000, 9440]]);
    expect(ch?.volumes).toEqual(
      expect.arrayContaining([
        { type: 'bind', source: join(tlsDir, 'certs'), target: '/etc/clickhouse-server/certs', readOnly: true },
        { type: 'bind', source: join(tlsDir, 'clickhouse-tls.xml'), target: '/etc/clickhouse-server/config.d/automagik-tls.xml', readOnly: true },
      ]),
    );
    expect(ch?.wait.map((w) => [w.containerPort, w.tls])).toEqual([[8443, true], [8443, true]]);
    const xml = await readFile(templatePath('docker', 'tls', 'clickhouse-tls.xml'), 'utf8');
    expect(xml).toContain('<https_port>8443</https_port>');
    expect(xml).toContain('<tcp_port_secure>9440</tcp_port_secure>');
    expect(xml).toMatch(/<openSSL>\s*<server>\s*<certificateFile>\/etc\/clickhouse-server\/certs\/server\.crt<\/certificateFile>\s*<privateKeyFile>\/etc\/clickhouse-server\/certs\/server\.key<\/privateKeyFile>/);
  });

  it('the collector: a second --config with TLS on the OTLP receivers, certs mounted; its health port stays plain', async () => {
    const { byName, tlsDir } = await stack();
    const collector = byName.collector;
    expect(collector?.command).toEqual(['--config=/etc/otelcol-contrib/config.yaml', '--config=/etc/otelcol-contrib/tls.yaml']);
    expect(collector?.volumes).toEqual(expect.arrayContaining([{ type: 'bind', source: join(tlsDir, 'certs'), target: '/etc/otelcol-contrib/certs', readOnly: true }]));
    expect(collector?.wait.map((w) => [w.containerPort, w.tls])).toEqual([[13133, false]]);
    const { parse } = await import('yaml');
    const tls = parse(await readFile(templatePath('docker', 'tls', 'collector-tls.yaml'), 'utf8')) as { receivers: { otlp: { protocols: Record<string, { tls: Record<string, string> }> } } };
    for (const protocol of ['http', 'grpc']) {
      expect(tls.receivers.otlp.protocols[protocol]?.tls).toEqual({ cert_file: '/etc/otelcol-contrib/certs/server.crt', key_file: '/etc/otelcol-contrib/certs/server.key', min_version: '1.2' });
    }
  });

  it('Grafana: GF_SERVER_PROTOCOL=https with the mounted certificate; its healthcheck and our wait ask https', async () => {
    const { byName } = await stack();
    const grafana = byName.grafana;
    expect(grafana?.environment).toMatchObject({ GF_SERVER_PROTOCOL: 'https', GF_SERVER_CERT_FILE: '/etc/grafana/certs/server.crt', GF_SERVER_CERT_KEY: '/etc/grafana/certs/server.key' });
    expect(grafana?.healthcheck?.test).toEqual(['CMD', 'wget', '-q', '--no-check-certificate', '--spider', 'https://127.0.0.1:3000/api/health']);
    expect(grafana?.wait.map((w) => w.tls)).toEqual([true]);
  });
});

describe.runIf(engine.available && hasOpenssl)('start --tls on dockerd with the stand-in images', () => {
  let home: TestHome;
  beforeAll(async () => {
    await buildStandIns(engine.docker);
    // The stand-ins answer plain http: the wait for ClickHouse's https port cannot pass, so keep it short.
    home = await engineHome(engine, { AUTOMAGIK_TELEMETRY_DOCKER_START_TIMEOUT_MS: '3000' });
  }, 300_000);
  afterAll(async () => {
    await cli(['reset', '--yes'], home.env);
    await home.cleanup();
  });

  it('creates ClickHouse with the certificates mounted read-only, readable by its user (uid 101), and waits for https', async () => {
    const started = await cli(['start', '--tls'], home.env);
    // What the stand-in cannot do: listen on 8443 and speak TLS there.
    expect(started.code).not.toBe(0);
    expect(started.stderr).toContain('clickhouse did not answer within 3000 ms');

    const container = engine.docker.getContainer(`${projectName(home.home)}-clickhouse`);
    const inspect = await container.inspect();
    const tlsDir = join(home.home, 'docker', 'tls');
    expect(inspect.Mounts.filter((m) => m.Type === 'bind').map((m) => [m.Source, m.Destination, m.RW]).sort()).toEqual([
      [join(tlsDir, 'certs'), '/etc/clickhouse-server/certs', false],
      [join(tlsDir, 'clickhouse-tls.xml'), '/etc/clickhouse-server/config.d/automagik-tls.xml', false],
    ]);
    expect(inspect.HostConfig.PortBindings?.['8443/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: home.env.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT }]);
    expect(inspect.HostConfig.PortBindings?.['9440/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: home.env.AUTOMAGIK_TELEMETRY_CLICKHOUSE_NATIVE_PORT }]);
    expect(inspect.HostConfig.PortBindings?.['8123/tcp']).toBeUndefined();

    // ClickHouse's server runs as uid 101: it must be able to read the key through the mount.
    const read = async (file: string) => {
      const exec = await container.exec({ Cmd: ['/bin/busybox', 'cat', file], User: '101:101', AttachStdout: true, AttachStderr: true });
      const stream = await exec.start({});
      const chunks: Buffer[] = [];
      await new Promise<void>((resolve) => {
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => resolve());
      });
      // Docker's multiplexed stream: 8-byte headers (stream 1 = stdout, 3 zero bytes, big-endian length).
      const all = Buffer.concat(chunks);
      const out: Buffer[] = [];
      for (let at = 0; at + 8 <= all.length; at += 8 + all.readUInt32BE(at + 4)) if (all[at] === 1) out.push(all.subarray(at + 8, at + 8 + all.readUInt32BE(at + 4)));
      return Buffer.concat(out).toString();
    };
    expect(await read('/etc/clickhouse-server/certs/server.key')).toBe(await readFile(join(home.home, 'certs', 'server.key'), 'utf8'));
    expect(await read('/etc/clickhouse-server/certs/server.crt')).toContain(await readFile(join(home.home, 'certs', 'server.crt'), 'utf8'));
    expect(await read('/etc/clickhouse-server/config.d/automagik-tls.xml')).toContain('<https_port>8443</https_port>');
    // Readable in the container, private on the host: the folder holding the copies is the user's alone.
    expect(((await stat(tlsDir)).mode & 0o777).toString(8)).toBe('700');
    expect(((await stat(join(home.home, 'certs', 'server.key'))).mode & 0o777).toString(8)).toBe('600');
  });
});
