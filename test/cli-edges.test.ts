import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, symlink, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, CLI } from './helpers/cli.js';
import { makeTestHome, type TestHome } from './helpers/home.js';
import { recentNanos } from './helpers/time.js';
import { basicAuthorization } from '../src/clickhouse/auth-header.js';

const root = join(import.meta.dirname, '..');
const homes: TestHome[] = [];
afterAll(async () => {
  for (const h of homes) {
    await cli(['stop'], h.env);
    await h.cleanup();
  }
});

async function newHome(extra: NodeJS.ProcessEnv = {}): Promise<TestHome> {
  const h = await makeTestHome(extra);
  homes.push(h);
  return h;
}

describe('start --foreground', () => {
  it('serves from the terminal until Ctrl-C, then stops cleanly and removes its state', async () => {
    const home = await newHome();
    const child = spawn(process.execPath, [CLI, 'start', '--foreground'], { env: { PATH: process.env.PATH, NO_COLOR: '1', ...home.env } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    for (let i = 0; i < 200 && !stderr.includes('press Ctrl-C'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(stderr).toContain('serving in the foreground');
    const status = JSON.parse((await cli(['status', '--json'], home.env)).stdout) as { running: boolean; pid: number };
    expect(status).toMatchObject({ running: true, pid: child.pid });
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).toContain('stopped');
    expect((await cli(['status'], home.env)).code).toBe(3);
    await expect(access(join(home.home, 'run', 'engine.json'))).rejects.toThrow();
  });
});

describe('stop while spans are arriving', () => {
  it('loses no span the receiver acknowledged', async () => {
    const home = await newHome();
    expect((await cli(['start'], home.env)).code).toBe(0);
    const vars = JSON.parse((await cli(['env', '--json'], home.env)).stdout) as Record<string, string>;
    const auth = basicAuthorization({ username: vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME ?? '', password: vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD ?? '' });
    const start = recentNanos();
    const body = (i: number) =>
      JSON.stringify({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'stopper' } }] },
            scopeSpans: [
              {
                spans: Array.from({ length: 50 }, (_, k) => ({
                  traceId: (i + 1).toString(16).padStart(32, '0'),
                  spanId: (k + 1).toString(16).padStart(16, '0'),
                  name: 'burst',
                  startTimeUnixNano: start,
                  endTimeUnixNano: start,
                })),
              },
            ],
          },
        ],
      });
    let acknowledged = 0;
    const senders = Array.from({ length: 200 }, (_, i) =>
      fetch(vars.AUTOMAGIK_TELEMETRY_ENDPOINT ?? '', { method: 'POST', body: body(i), headers: { Authorization: auth, 'Content-Type': 'application/json' } })
        .then(async (res) => {
          await res.arrayBuffer();
          if (res.status === 200) acknowledged += 50;
        })
        .catch(() => undefined),
    );
    await new Promise((r) => setTimeout(r, 30));
    const stopped = await cli(['stop', '--json'], home.env);
    await Promise.all(senders);
    expect(JSON.parse(stopped.stdout)).toMatchObject({ wasRunning: true, killed: false });
    expect(acknowledged).toBeGreaterThan(0);
    expect((await cli(['start'], home.env)).code).toBe(0);
    const status = JSON.parse((await cli(['status', '--json'], home.env)).stdout) as { rows: { traces: number } };
    expect(status.rows.traces).toBe(acknowledged);
  });
});

describe('an install without chDB', () => {
  it('fails start with the fix spelled out', async () => {
    // A copy of the package whose node_modules has everything but chdb.
    const dir = await mkdtemp(join(tmpdir(), 'amt-nochdb-'));
    try {
      for (const part of ['dist', 'templates', 'proto', 'package.json']) await cp(join(root, part), join(dir, part), { recursive: true });
      await mkdir(join(dir, 'node_modules'));
      for (const entry of await readdir(join(root, 'node_modules'))) {
        if (entry === 'chdb' || entry === '@chdb' || entry === '.bin') continue;
        await symlink(join(root, 'node_modules', entry), join(dir, 'node_modules', entry));
      }
      const home = await newHome();
      const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [join(dir, 'dist', 'bin', 'automagik-telemetry.js'), 'start'], { env: { PATH: process.env.PATH, NO_COLOR: '1', ...home.env } });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('the embedded engine needs the npm package "chdb", which is not installed');
      expect(result.stderr).toContain('npm install chdb');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('--help', () => {
  it('teaches the commands, the exit codes and the settings order', async () => {
    const result = await cli(['--help'], {});
    expect(result.code).toBe(0);
    for (const command of ['start', 'stop', 'restart', 'status', 'health', 'env', 'logs']) expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    expect(result.stdout).toContain('Exit codes: 0 ok, 1 failure, 2 bad usage or configuration, 3 the stack is not running, 130 interrupted (Ctrl-C).');
    expect(result.stdout).toContain('flags > environment (AUTOMAGIK_TELEMETRY_*) > what start recorded for the home (run/stack.json)');
    const start = await cli(['start', '--help'], {});
    expect(start.stdout).toContain('--foreground');
    expect(start.stdout.replace(/\s+/g, ' ')).toContain('AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT; default: what start used, else 8123');
  });

  it('answers an unknown command with exit 2 and a pointer to --help', async () => {
    const result = await cli(['strat'], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'strat'");
  });
});

describe('start --no-auth', () => {
  it('serves without credentials, and says so loudly', async () => {
    const home = await newHome();
    const started = await cli(['start', '--no-auth'], home.env);
    expect(started.code).toBe(0);
    expect(started.stderr).toContain('warning: --no-auth: anyone who can reach the ports can read and write telemetry');
    const query = await fetch(`http://127.0.0.1:${home.env.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT}/?query=SELECT+1`);
    expect(await query.text()).toBe('1\n');
    const otlp = await fetch(`http://127.0.0.1:${home.env.AUTOMAGIK_TELEMETRY_OTLP_PORT}/v1/traces`, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } });
    expect(otlp.status).toBe(200);
  });
});
