import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { freePort } from './helpers/ports.js';

// A newcomer starts a stack on ports of their own choosing, then uses every other command with only --home.
let home: string;
let ports: { clickhouse: number; otlp: number; otlpGrpc: number; dashboard: number };
const only = (...args: string[]) => cli([...args, '--home', home], {});

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'amt-remembered-'));
  ports = { clickhouse: await freePort(), otlp: await freePort(), otlpGrpc: await freePort(), dashboard: await freePort() };
  const started = await cli(
    ['start', '--home', home, '--engine', 'embedded', '--clickhouse-port', String(ports.clickhouse), '--otlp-port', String(ports.otlp), '--otlp-grpc-port', String(ports.otlpGrpc), '--dashboard-port', String(ports.dashboard)],
    {},
  );
  if (started.code !== 0) throw new Error(`start failed: ${started.stderr}`);
});
afterAll(async () => {
  await only('stop');
  await rm(home, { recursive: true, force: true });
});

describe('a home started on custom ports', () => {
  it('records engine, host, ports and database in run/stack.json', async () => {
    const recorded = JSON.parse(await readFile(join(home, 'run', 'stack.json'), 'utf8')) as Record<string, unknown>;
    expect(recorded).toMatchObject({ engine: 'embedded', host: '127.0.0.1', ports, database: 'telemetry', authRequired: true });
  });

  it('status --json tells one truth: the ports and the endpoints agree', async () => {
    const result = await only('status', '--json');
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout) as { running: boolean; ports: typeof ports; endpoints: Record<string, string> };
    expect(status.running).toBe(true);
    expect(status.ports).toEqual(ports);
    expect(status.endpoints).toEqual({
      clickhouse: `http://127.0.0.1:${ports.clickhouse}`,
      otlp: `http://127.0.0.1:${ports.otlp}`,
      otlpGrpc: `http://127.0.0.1:${ports.otlpGrpc}`,
      dashboard: `http://127.0.0.1:${ports.dashboard}`,
    });
  });

  it('env, send, query, query-traces, health, dashboard and test all reach it with only --home', async () => {
    const vars = JSON.parse((await only('env', '--json')).stdout) as Record<string, string>;
    expect(vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT).toBe(`http://127.0.0.1:${ports.clickhouse}`);
    expect(vars.AUTOMAGIK_TELEMETRY_ENDPOINT).toBe(`http://127.0.0.1:${ports.otlp}/v1/traces`);

    for (const backend of ['otlp', 'clickhouse']) {
      const sent = await only('send', '--event', 'remembered', '--backend', backend, '--project', 'custom-ports');
      expect(sent.stderr).toBe('');
      expect(sent.code).toBe(0);
    }
    const counted = await only('query', "SELECT count() AS n FROM traces WHERE project_name = 'custom-ports'", '--format', 'csv');
    expect(counted.code).toBe(0);
    expect(counted.stdout.trim().split('\n')).toEqual(['"n"', '2']);
    const traces = JSON.parse((await only('query-traces', '--project', 'custom-ports', '--format', 'json')).stdout) as Array<{ span_name: string }>;
    expect(traces.map((t) => t.span_name)).toEqual(['remembered', 'remembered']);

    const health = await only('health', '--json');
    expect(health.code).toBe(0);
    const checks = (JSON.parse(health.stdout) as { checks: Array<{ target: string; ok: boolean }> }).checks;
    expect(checks.every((c) => c.ok)).toBe(true);
    expect(checks.map((c) => c.target).join(' ')).toContain(`:${ports.dashboard}/health`);

    const dashboard = JSON.parse((await only('dashboard', '--json')).stdout) as { url: string };
    expect(dashboard.url).toBe(`http://127.0.0.1:${ports.dashboard}/`);
    expect((await only('test', '--backend', 'clickhouse')).code).toBe(0);
  });

  it('a flag that disagrees with the running stack wins, and the command says so', async () => {
    const other = await freePort();
    const result = await only('query', 'SELECT 1', '--clickhouse-port', String(other));
    expect(result.stderr).toContain(`note: ClickHouse port ${other} (--clickhouse-port), the running stack's is ${ports.clickhouse}`);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`nothing answers at 127.0.0.1:${other}`);
  });

  it('so does a variable', async () => {
    const other = await freePort();
    const result = await cli(['status', '--json', '--home', home], { AUTOMAGIK_TELEMETRY_OTLP_PORT: String(other) });
    expect(result.stderr).toContain(`note: OTLP port ${other} (AUTOMAGIK_TELEMETRY_OTLP_PORT), the running stack's is ${ports.otlp}`);
    // status reports the running stack as it is, whatever the command was told.
    expect((JSON.parse(result.stdout) as { ports: typeof ports }).ports).toEqual(ports);
  });

  it('a second start records a stack that runs without a record (started before homes remembered theirs)', async () => {
    await rm(join(home, 'run', 'stack.json'));
    const again = await only('start');
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('already running');
    const recorded = JSON.parse(await readFile(join(home, 'run', 'stack.json'), 'utf8')) as { ports: typeof ports };
    expect(recorded.ports).toEqual(ports);
  });

  it('after stop, a plain start brings the same stack back on the same ports', async () => {
    expect((await only('stop')).code).toBe(0);
    const stopped = await only('status', '--json');
    expect(stopped.code).toBe(3);
    expect((JSON.parse(stopped.stdout) as { ports: typeof ports }).ports).toEqual(ports);
    expect((await only('start')).code).toBe(0);
    const status = JSON.parse((await only('status', '--json')).stdout) as { running: boolean; ports: typeof ports; rows: { traces: number } };
    expect(status).toMatchObject({ running: true, ports, rows: { traces: 2 } });
  });
});

describe('a stack started with --no-auth', () => {
  it('is reached without credentials by later commands; a later plain start turns credentials back on', async () => {
    const other = await mkdtemp(join(tmpdir(), 'amt-noauth-'));
    const env = {
      AUTOMAGIK_TELEMETRY_ENGINE: 'embedded',
      AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT: String(await freePort()),
      AUTOMAGIK_TELEMETRY_OTLP_PORT: String(await freePort()),
      AUTOMAGIK_TELEMETRY_DASHBOARD_PORT: String(await freePort()),
    };
    const at = (...args: string[]) => cli([...args, '--home', other], env);
    try {
      expect((await at('start', '--no-auth')).code).toBe(0);
      const vars = JSON.parse((await at('env', '--json')).stdout) as Record<string, string>;
      expect(vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD).toBeUndefined();
      expect((await at('send', '--event', 'open')).code).toBe(0);
      expect((await at('stop')).code).toBe(0);
      const again = await at('start');
      expect(again.code).toBe(0);
      expect(again.stderr).toContain('generated a password');
      const recorded = JSON.parse(await readFile(join(other, 'run', 'stack.json'), 'utf8')) as { authRequired: boolean };
      expect(recorded.authRequired).toBe(true);
      const closed = await fetch(`http://127.0.0.1:${env.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT}/?query=SELECT+1`);
      expect(closed.status).not.toBe(200);
      expect((await at('query', 'SELECT count() AS n FROM traces', '--format', 'csv')).stdout).toBe('"n"\n1\n');
    } finally {
      await at('stop');
      await rm(other, { recursive: true, force: true });
    }
  });
});

describe('a damaged run/stack.json', () => {
  it.each([
    ['not JSON', '{"engine": "embedded", "ports": '],
    ['a port out of range', JSON.stringify({ engine: 'embedded', host: '127.0.0.1', ports: { clickhouse: 70000, otlp: 1, dashboard: 2 }, database: 'telemetry', authRequired: true })],
    ['a host with a path in it', JSON.stringify({ engine: 'embedded', host: 'evil.example/x?', ports: { clickhouse: 1, otlp: 2, dashboard: 3 }, database: 'telemetry', authRequired: true })],
  ])('holding %s is named with the fix (exit 2), never replaced by defaults', async (_what, text) => {
    const other = await mkdtemp(join(tmpdir(), 'amt-damaged-'));
    try {
      await mkdir(join(other, 'run'));
      await writeFile(join(other, 'run', 'stack.json'), text);
      const result = await cli(['status', '--home', other], { AUTOMAGIK_TELEMETRY_ENGINE: 'embedded' });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`${join(other, 'run', 'stack.json')} is not a stack record written by start`);
      expect(result.stderr).toContain('Delete it');
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});

describe('clean', () => {
  it('keeps the data, the log and the query history, and status lists only what exists', async () => {
    const other = await mkdtemp(join(tmpdir(), 'amt-clean-'));
    const env = {
      AUTOMAGIK_TELEMETRY_HOME: other,
      AUTOMAGIK_TELEMETRY_ENGINE: 'embedded',
      AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT: String(await freePort()),
      AUTOMAGIK_TELEMETRY_OTLP_PORT: String(await freePort()),
      AUTOMAGIK_TELEMETRY_DASHBOARD_PORT: String(await freePort()),
    };
    try {
      const fresh = JSON.parse((await cli(['status', '--json'], env)).stdout) as { logFile?: string };
      expect(fresh.logFile).toBeUndefined();
      expect((await cli(['start'], env)).code).toBe(0);
      const cleaned = await cli(['clean', '--json'], env);
      expect(cleaned.code).toBe(0);
      const removed = (JSON.parse(cleaned.stdout) as { removed: Array<{ kind: string; name: string }> }).removed;
      expect(removed.map((r) => r.kind)).toContain('process');
      expect(removed.map((r) => r.name)).not.toContain(join(other, 'run', 'engine.log'));
      await access(join(other, 'run', 'engine.log'));
      await access(join(other, 'data'));
      const status = JSON.parse((await cli(['status', '--json'], env)).stdout) as { running: boolean; logFile?: string };
      expect(status).toMatchObject({ running: false, logFile: join(other, 'run', 'engine.log') });
      const text = await cli(['clean'], env);
      expect(text.stdout).toBe('nothing to remove\n');
      expect(text.stderr).toContain('kept: the data');
    } finally {
      await cli(['stop'], env);
      await rm(other, { recursive: true, force: true });
    }
  });
});
