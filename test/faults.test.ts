import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutomagikTelemetry } from '../src/index.js';
import { CLI, cli } from './helpers/cli.js';
import { freePort } from './helpers/ports.js';
import { startStack, type RunningStack } from './helpers/stack.js';
import { basicAuthorization } from '../src/clickhouse/auth-header.js';

let stack: RunningStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.stop());

async function enginePid(): Promise<number> {
  return (JSON.parse(await readFile(join(stack.home.home, 'run', 'engine.json'), 'utf8')) as { pid: number }).pid;
}

describe('the engine killed with SIGKILL in the middle of a 100k-event send --stdin', () => {
  it.each(['clickhouse', 'otlp'])('stores every event exactly once through the %s backend once it is back', async (backend) => {
    const project = `kill9-${backend}`;
    const child = spawn(process.execPath, [CLI, 'send', '--stdin', '--project', project, '--backend', backend, '--json'], {
      env: { PATH: process.env.PATH, NO_COLOR: '1', ...stack.home.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    // Feed 100k lines in slices, so the kill lands while events are flowing.
    let killed = false;
    for (let slice = 0; slice < 20; slice++) {
      const lines = Array.from({ length: 5000 }, (_, k) => JSON.stringify({ event: 'flow', attributes: { i: slice * 5000 + k } })).join('\n');
      if (!child.stdin.write(`${lines}\n`)) await new Promise((r) => child.stdin.once('drain', r));
      if (slice === 6 && !killed) {
        process.kill(await enginePid(), 'SIGKILL');
        killed = true;
        const restarted = await cli(['start'], stack.home.env);
        expect(restarted.code, restarted.stderr).toBe(0);
      }
      await new Promise((r) => setTimeout(r, 30));
    }
    child.stdin.end();
    expect(await exited, stderr).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ read: 100_000, sent: 100_000, rejected: 0, failed: 0 });
    const [stored] = await stack.rows<{ n: number; distinct: number }>(
      "SELECT count() AS n, uniqExact(attributes['i']) AS distinct FROM traces WHERE project_name = {p:String}",
      { p: project },
    );
    expect(stored).toEqual({ n: 100_000, distinct: 100_000 });
  });
});

describe('the engine killed with SIGKILL in the middle of a send --stdin of logs and metrics', () => {
  it('stores every log record and metric point exactly once once it is back', async () => {
    const project = 'kill9-signals';
    const child = spawn(process.execPath, [CLI, 'send', '--stdin', '--project', project, '--json'], { env: { PATH: process.env.PATH, NO_COLOR: '1', ...stack.home.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    const slices = 20;
    const perSlice = 2000;
    let killed = false;
    for (let slice = 0; slice < slices; slice++) {
      const lines = Array.from({ length: perSlice }, (_, k) => {
        const i = slice * perSlice + k;
        return JSON.stringify({ type: 'log', message: `line ${i}`, attributes: { i } }) + '\n' + JSON.stringify({ type: 'metric', name: 'flow', value: i, kind: 'counter', attributes: { i } });
      }).join('\n');
      if (!child.stdin.write(`${lines}\n`)) await new Promise((r) => child.stdin.once('drain', r));
      if (slice === 6 && !killed) {
        process.kill(await enginePid(), 'SIGKILL');
        killed = true;
        const restarted = await cli(['start'], stack.home.env);
        expect(restarted.code, restarted.stderr).toBe(0);
      }
      await new Promise((r) => setTimeout(r, 30));
    }
    child.stdin.end();
    expect(await exited, stderr).toBe(0);
    const total = slices * perSlice;
    expect(JSON.parse(stdout)).toMatchObject({ read: 2 * total, sent: 2 * total, rejected: 0, failed: 0 });
    for (const table of ['logs', 'metrics']) {
      const [stored] = await stack.rows<{ n: number; distinct: number }>(`SELECT count() AS n, uniqExact(attributes['i']) AS distinct FROM ${table} WHERE project_name = {p:String}`, { p: project });
      expect(stored, table).toEqual({ n: total, distinct: total });
    }
  });
});

describe('an SDK facing a server that accepts connections and never answers', () => {
  it('gives up after timeoutMs per attempt, keeps the host event loop responsive, and stays within its queue bound', async () => {
    const port = await freePort();
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
    const errors: string[] = [];
    const t = new AutomagikTelemetry(
      { projectName: 'slow', backend: 'clickhouse', clickhouseEndpoint: `http://127.0.0.1:${port}`, clickhousePassword: 'x', timeoutMs: 300, maxRetries: 1, maxQueueSize: 1000, clickhouseBatchSize: 100, onError: (e) => errors.push(e.message) },
      {},
    );
    const rssBefore = process.memoryUsage().rss;
    for (let i = 0; i < 50_000; i++) t.trackEvent('slow', { i });
    // While the SDK waits on the silent server, the host's timers keep firing on time.
    let last = performance.now();
    let worstLag = 0;
    const probe = setInterval(() => {
      const nowMs = performance.now();
      worstLag = Math.max(worstLag, nowMs - last - 10);
      last = nowMs;
    }, 10);
    const started = performance.now();
    const result = await t.flush();
    const took = performance.now() - started;
    clearInterval(probe);
    sockets.forEach((s) => s.destroy());
    silent.close();
    expect(result.sent).toBe(0);
    expect(t.stats().queued).toBeLessThanOrEqual(1000);
    expect(t.stats().dropped).toBeGreaterThanOrEqual(49_000);
    expect(errors[0]).toBe(`cannot reach http://127.0.0.1:${port}: no answer within 300 ms`);
    expect(took).toBeLessThan(5_000);
    expect(worstLag).toBeLessThan(250);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(200 * 1024 * 1024);
    await t.shutdown();
  });
});

describe('20 senders at once', () => {
  it('lands every row from 20 concurrent SDK clients, half OTLP and half ClickHouse, with no error', async () => {
    const errors: string[] = [];
    const clients = Array.from({ length: 20 }, (_, c) =>
      new AutomagikTelemetry(
        {
          projectName: 'concurrent',
          backend: c % 2 ? 'otlp' : 'clickhouse',
          endpoint: stack.vars.AUTOMAGIK_TELEMETRY_ENDPOINT,
          clickhouseEndpoint: stack.vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT,
          clickhousePassword: stack.vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD,
          clickhouseBatchSize: 250,
          onError: (e) => errors.push(e.message),
        },
        {},
      ),
    );
    await Promise.all(
      clients.map(async (t, c) => {
        for (let i = 0; i < 1000; i++) t.trackEvent('parallel', { client: c, i });
        await t.shutdown();
      }),
    );
    expect(errors).toEqual([]);
    const [stored] = await stack.rows<{ n: number; pairs: number }>(
      "SELECT count() AS n, uniqExact(attributes['client'], attributes['i']) AS pairs FROM traces WHERE project_name = 'concurrent'",
    );
    expect(stored).toEqual({ n: 20_000, pairs: 20_000 });
  });
});

describe('security', () => {
  const endpoints = () => ({
    clickhouse: `${stack.vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT}/?query=SELECT%201`,
    otlp: stack.vars.AUTOMAGIK_TELEMETRY_ENDPOINT ?? '',
    dashboard: `http://127.0.0.1:${stack.home.env.AUTOMAGIK_TELEMETRY_DASHBOARD_PORT}/api/panels`,
  });

  it('rejects unauthenticated and wrong-password requests on every endpoint', async () => {
    const e = endpoints();
    const wrong = { Authorization: basicAuthorization({ username: 'telemetry', password: 'wrong' }) };
    expect((await fetch(e.clickhouse)).status).toBe(401);
    expect((await fetch(e.clickhouse, { headers: wrong })).status).toBe(403);
    expect((await fetch(e.otlp, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } })).status).toBe(401);
    expect((await fetch(e.otlp, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json', ...wrong } })).status).toBe(401);
    expect((await fetch(e.dashboard)).status).toBe(401);
    expect((await fetch(e.dashboard, { headers: wrong })).status).toBe(401);
    const login = await fetch(`http://127.0.0.1:${stack.home.env.AUTOMAGIK_TELEMETRY_DASHBOARD_PORT}/login`, {
      method: 'POST',
      body: 'username=telemetry&password=wrong',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      redirect: 'manual',
    });
    expect(login.headers.get('location')).toBe('/login?failed=1');
    expect(login.headers.get('set-cookie')).toBeNull();
  });

  it('binds every server to 127.0.0.1 by default: another address of this machine is refused', async () => {
    const other = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    const ports = [stack.home.env.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT, stack.home.env.AUTOMAGIK_TELEMETRY_OTLP_PORT, stack.home.env.AUTOMAGIK_TELEMETRY_OTLP_GRPC_PORT, stack.home.env.AUTOMAGIK_TELEMETRY_DASHBOARD_PORT];
    const listening = await readFile('/proc/net/tcp', 'utf8');
    for (const port of ports) {
      const hex = Number(port).toString(16).toUpperCase().padStart(4, '0');
      const lines = listening.split('\n').filter((l) => l.includes(`:${hex} `) && / 0A /.test(l));
      expect(lines.length, `port ${port}`).toBeGreaterThan(0);
      for (const line of lines) expect(line.trim().split(/\s+/)[1], `port ${port}`).toBe(`0100007F:${hex}`);
      if (other) await expect(fetch(`http://${other}:${port}/`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
    }
  });

  it('never prints the password in status, health, logs or errors', async () => {
    const passwords = Object.values(stack.roles).map((r) => r.password);
    const outputs = await Promise.all([
      cli(['status', '--json'], stack.home.env),
      cli(['health', '--json'], stack.home.env),
      cli(['logs', '-n', '500'], stack.home.env),
      cli(['send', '--event', 'x', '--backend', 'clickhouse'], { ...stack.home.env, AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT: 'http://127.0.0.1:1' }),
      cli(['query', 'SELEC'], stack.home.env),
    ]);
    const log = await readFile(join(stack.home.home, 'run', 'engine.log'), 'utf8');
    for (const password of passwords) {
      for (const o of outputs) expect(o.stdout + o.stderr).not.toContain(password);
      expect(log).not.toContain(password);
    }
  });
});
