import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cli } from './helpers/cli.js';
import { makeTestHome, type TestHome } from './helpers/home.js';
import { startStack, type RunningStack } from './helpers/stack.js';

let stack: RunningStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.stop());

interface Running {
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
  exited: Promise<number>;
}

/** `send --stdin` as a user runs it from a shell, its stdin left open like a terminal or a producer still writing. */
function sendStdin(env: NodeJS.ProcessEnv, args: string[] = []): Running {
  const child = spawn(process.execPath, [CLI, 'send', '--stdin', ...args], { env: { PATH: process.env.PATH, NO_COLOR: '1', ...env } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.resume();
  const exited = new Promise<number>((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? -1 : -2))));
  return { child, stderr: () => stderr, exited };
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const lines = (n: number, project: string) => Array.from({ length: n }, (_, i) => JSON.stringify({ event: 'tick', project, attributes: { i } })).join('\n') + '\n';

describe('Ctrl-C during send --stdin', () => {
  it('stops reading, stores every complete line read, prints the summary and "interrupted", exits 130', async () => {
    const project = 'interrupted-once';
    const run = sendStdin(stack.home.env, ['--backend', 'clickhouse']);
    run.child.stdin.write(lines(715, project));
    run.child.stdin.write('{"event":"half a li'); // an unfinished line when Ctrl-C comes: dropped, not rejected
    await new Promise((r) => setTimeout(r, 1_500));
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    const stderr = run.stderr();
    expect(stderr).toContain('interrupted: sending the 715 event(s) read');
    expect(stderr).toMatch(/^sent 715, rejected 0, in [\d.]+ s/m);
    expect(stderr.trimEnd().split('\n').at(-1)).toBe('interrupted');
    const [row] = await stack.rows<{ n: number }>('SELECT count() AS n FROM telemetry.traces WHERE project_name = {p:String}', { p: project });
    expect(row?.n).toBe(715);
  });

  describe('against a store that accepts connections and never answers', () => {
    let silent: Server;
    let home: TestHome;
    const sockets: Socket[] = [];
    beforeAll(async () => {
      silent = createServer((socket) => sockets.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const port = (silent.address() as { port: number }).port;
      home = await makeTestHome({ AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT: String(port), AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD: 'x', AUTOMAGIK_TELEMETRY_TIMEOUT_MS: '60000' });
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
      await home.cleanup();
    });

    it('a second Ctrl-C exits at once, saying how many were not sent', async () => {
      const run = sendStdin(home.env, ['--backend', 'clickhouse']);
      run.child.stdin.write(lines(300, 'never'));
      await new Promise((r) => setTimeout(r, 1_500));
      run.child.kill('SIGINT');
      await until(() => run.stderr().includes('Ctrl-C again to quit now'), 'the first interrupt to be acknowledged');
      const second = Date.now();
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(130);
      expect(Date.now() - second).toBeLessThan(1_000);
      expect(run.stderr()).toContain('interrupted twice: 300 event(s) read were not sent');
    });

    it('one Ctrl-C gives up after the 5 s deadline, with the counts', async () => {
      const run = sendStdin(home.env, ['--backend', 'clickhouse']);
      run.child.stdin.write(lines(120, 'never'));
      await new Promise((r) => setTimeout(r, 1_500));
      const first = Date.now();
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(130);
      const waited = Date.now() - first;
      expect(waited).toBeGreaterThanOrEqual(4_900);
      expect(waited).toBeLessThan(8_000);
      expect(run.stderr()).toContain('sent 0, rejected 0, not sent 120');
      expect(run.stderr()).toContain('interrupted: the store did not take the rest within 5 s');
    });
  });
});

describe('send --stdin limits and warnings', () => {
  it('--max-line-bytes rejects longer lines by number and still sends the others', async () => {
    const project = 'line-limit';
    const long = JSON.stringify({ event: 'big', project, attributes: { pad: 'x'.repeat(300) } });
    const short = JSON.stringify({ event: 'small', project });
    const result = await cli(['send', '--stdin', '--max-line-bytes', '200'], stack.home.env, `${short}\n${long}\n${short}\n`);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('line 2: line is longer than 200 bytes (--max-line-bytes)');
    expect(result.stderr).toMatch(/^sent 2, rejected 1,/m);
    const bad = await cli(['send', '--stdin', '--max-line-bytes', 'lots'], stack.home.env, short);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--max-line-bytes "lots" is not a whole number');
  });

  it('warns once, with the count, about events older than the 90-day retention', async () => {
    const project = 'too-old';
    const old = (day: string) => JSON.stringify({ event: 'old', project, timestamp: `${day}T12:00:00Z` });
    const fresh = JSON.stringify({ event: 'fresh', project, timestamp: Date.now() - 60_000 });
    const result = await cli(['send', '--stdin'], stack.home.env, [old('2025-10-22'), fresh, old('2024-01-01')].join('\n'));
    expect(result.code).toBe(0);
    const warnings = result.stderr.split('\n').filter((l) => l.startsWith('warning:'));
    expect(warnings).toEqual([expect.stringContaining("warning: 2 event(s) are older than the store's 90-day retention")]);
  });
});

describe('automagik-telemetry test', () => {
  const demo = "SELECT count() AS n FROM telemetry.traces WHERE project_name IN ('demo-web', 'demo-worker')";
  const rollup = "SELECT count() AS n FROM telemetry.metrics_hourly WHERE project_name IN ('demo-web', 'demo-worker')";
  it('removes its sample rows and their rollup afterwards', async () => {
    const result = await cli(['test', '--json'], stack.home.env);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, removed: 12 });
    expect((await stack.rows<{ n: number }>(demo))[0]?.n).toBe(0);
    expect((await stack.rows<{ n: number }>(rollup))[0]?.n).toBe(0);
  });

  it('leaves them with --keep', async () => {
    const result = await cli(['test', '--keep'], stack.home.env);
    expect(result.code).toBe(0);
    expect((await stack.rows<{ n: number }>(demo))[0]?.n).toBe(12);
    const rolled = await stack.rows<{ total: number }>("SELECT sum(total_count) AS total FROM telemetry.metrics_hourly WHERE project_name IN ('demo-web', 'demo-worker')");
    expect(rolled[0]?.total).toBe(12);
  });
});
