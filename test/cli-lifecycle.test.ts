import { createServer, type Server } from 'node:net';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { makeTestHome, type TestHome } from './helpers/home.js';
import { emitSpan } from './helpers/otel.js';
import { freePort } from './helpers/ports.js';
import { basicAuthorization } from '../src/clickhouse/auth-header.js';

let home: TestHome;

beforeAll(async () => {
  home = await makeTestHome();
});

afterAll(async () => {
  await cli(['stop'], home.env);
  await home.cleanup();
});

describe('a user starting the embedded engine from the command line', () => {
  it('starts it, healthy, and generates a private password per role in <home>/.env', async () => {
    const result = await cli(['start', '--engine', 'embedded'], home.env);
    expect(result.stderr).toContain('generated a password for user "telemetry_ingest" (ingest role)');
    expect(result.stderr).toContain('generated a password for user "telemetry_reader" (reader role)');
    expect(result.stderr).toContain('generated a password for user "telemetry" (admin role)');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/state\s+running/);
    const envFile = join(home.home, '.env');
    expect((await stat(envFile)).mode & 0o777).toBe(0o600);
    expect(await readFile(envFile, 'utf8')).toMatch(/^CLICKHOUSE_PASSWORD=\S{16,}$/m);
  });

  it('never prints a password, except through env, which prints the app (ingest) one unless asked for another role', async () => {
    const text = await readFile(join(home.home, '.env'), 'utf8');
    const passwordOf = (key: string) => new RegExp(`^${key}=(\\S+)$`, 'm').exec(text)?.[1] ?? '';
    const passwords = { ingest: passwordOf('CLICKHOUSE_INGEST_PASSWORD'), reader: passwordOf('CLICKHOUSE_READER_PASSWORD'), admin: passwordOf('CLICKHOUSE_PASSWORD') };
    for (const args of [['status'], ['status', '--json'], ['health', '--json'], ['logs']]) {
      const result = await cli(args, home.env);
      for (const password of Object.values(passwords)) expect(result.stdout + result.stderr).not.toContain(password);
    }
    const printed = (await cli(['env'], home.env)).stdout;
    expect(printed).toContain(passwords.ingest);
    expect(printed).not.toContain(passwords.admin);
    expect(printed).not.toContain(passwords.reader);
    expect((await cli(['env', '--role', 'reader'], home.env)).stdout).toContain(`AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD='${passwords.reader}'`);
    expect((await cli(['env', '--role', 'admin', '--json'], home.env)).stdout).toContain(passwords.admin);
    const bad = await cli(['env', '--role', 'root'], home.env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--role "root" is not one of ingest, reader, admin');
  });

  it('says it is already running on a second start, and exits 0', async () => {
    const result = await cli(['start'], home.env);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('already running');
  });

  it('answers curl-style SELECT 1 with the credentials from env', async () => {
    const vars = JSON.parse((await cli(['env', '--json'], home.env)).stdout) as Record<string, string>;
    const res = await fetch(`${vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT}/?query=SELECT+1`, {
      headers: { Authorization: basicAuthorization({ username: vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME ?? '', password: vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD ?? '' }) },
    });
    expect(await res.text()).toBe('1\n');
  });

  it('stores a span from the official OTel exporter, configured only from env output', async () => {
    const vars = JSON.parse((await cli(['env', '--json'], home.env)).stdout) as Record<string, string>;
    const header = decodeURIComponent((vars.OTEL_EXPORTER_OTLP_HEADERS ?? '').replace(/^Authorization=/, ''));
    await emitSpan({ url: `${vars.OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces`, encoding: 'protobuf', headers: { Authorization: header }, resource: { 'service.name': 'cli-test' }, name: 'hello' });
    const status = JSON.parse((await cli(['status', '--json'], home.env)).stdout) as { rows: { traces: number; metricsHourly: number } };
    expect(status.rows).toEqual({ traces: 1, metricsHourly: 1, logs: 0, metrics: 0 });
  });

  it('reports status as JSON with engine, pid, ports, uptime, rows and disk use', async () => {
    const result = await cli(['status', '--json'], home.env);
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(status).toMatchObject({
      engine: 'embedded',
      running: true,
      ports: { clickhouse: Number(home.env.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT), otlp: Number(home.env.AUTOMAGIK_TELEMETRY_OTLP_PORT), otlpGrpc: Number(home.env.AUTOMAGIK_TELEMETRY_OTLP_GRPC_PORT) },
      schemaVersion: 4,
    });
    expect(status.pid).toEqual(expect.any(Number));
    expect(status.diskBytes).toBeGreaterThan(0);
  });

  it('reports every endpoint healthy', async () => {
    const result = await cli(['health', '--json'], home.env);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { healthy: boolean; checks: Array<{ name: string; ok: boolean }> };
    expect(report.checks.map((c) => [c.name, c.ok])).toEqual([
      ['clickhouse.ping', true],
      ['clickhouse.query', true],
      ['clickhouse.schema', true],
      ['otlp.health', true],
      ['otlp-grpc.export', true],
      ['dashboard.health', true],
      ['disk.space', true],
      ['disk.write', true],
    ]);
  });

  it('stops cleanly, keeps the data, and comes back with it', async () => {
    const stopped = await cli(['stop', '--json'], home.env);
    expect(JSON.parse(stopped.stdout)).toMatchObject({ wasRunning: true, killed: false });
    const status = await cli(['status', '--json'], home.env);
    expect(status.code).toBe(3);
    expect(JSON.parse(status.stdout)).toMatchObject({ running: false });
    const health = await cli(['health'], home.env);
    expect(health.code).toBe(3);
    expect(health.stdout).toContain('unhealthy');
    expect((await cli(['start'], home.env)).code).toBe(0);
    const again = JSON.parse((await cli(['status', '--json'], home.env)).stdout) as { rows: { traces: number } };
    expect(again.rows.traces).toBe(1);
    expect((await cli(['stop'], home.env)).stdout).toMatch(/^stopped \(pid \d+\)/);
    expect((await cli(['stop'], home.env)).stdout).toBe('not running\n');
  });
});

describe('a user whose start cannot succeed', () => {
  let blocker: Server;
  let blocked: number;

  beforeAll(async () => {
    blocked = await freePort();
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(blocked, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

  it('is told which port is taken and by which process', async () => {
    const other = await makeTestHome({ AUTOMAGIK_TELEMETRY_OTLP_PORT: String(blocked) });
    const result = await cli(['start'], other.env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`port ${blocked} (OTLP/HTTP) on 127.0.0.1 is already in use by process ${process.pid}`);
    expect(result.stderr).toContain('--otlp-port');
    await other.cleanup();
  });

  it('is told when <home> is not writable', async () => {
    if (process.getuid?.() === 0) {
      // root writes anywhere; a file where the home folder should be fails for everyone.
      const other = await makeTestHome();
      const home = join(other.home, 'not-a-dir');
      await mkdir(other.home, { recursive: true });
      await import('node:fs/promises').then((fs) => fs.writeFile(home, 'x'));
      const result = await cli(['start', '--home', home], other.env);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/error cannot (write to|read) /);
      await other.cleanup();
    } else {
      const other = await makeTestHome();
      await chmod(other.home, 0o500);
      const result = await cli(['start'], other.env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`cannot write to ${other.home}`);
      await chmod(other.home, 0o700);
      await other.cleanup();
    }
  });

  it('gets exit code 2 and the accepted values for a bad port or engine', async () => {
    const port = await cli(['start', '--clickhouse-port', 'eighty'], home.env);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain('--clickhouse-port="eighty" (from flag) is not valid: expected a port number from 1 to 65535');
    const engine = await cli(['status'], { ...home.env, AUTOMAGIK_TELEMETRY_ENGINE: 'kubernetes' });
    expect(engine.code).toBe(2);
    expect(engine.stderr).toContain('AUTOMAGIK_TELEMETRY_ENGINE="kubernetes" (from environment) is not valid: expected one of auto, docker, embedded');
  });
});
