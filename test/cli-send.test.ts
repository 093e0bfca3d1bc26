import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { makeTestHome, type TestHome } from './helpers/home.js';
import { startStack, type RunningStack } from './helpers/stack.js';

let stack: RunningStack;
let home: TestHome;
let vars: Record<string, string>;

beforeAll(async () => {
  stack = await startStack();
  ({ home, vars } = stack);
});
afterAll(() => stack.stop());

const rows = <T>(sql: string, params: Record<string, string> = {}) => stack.rows<T>(sql, params);

describe('a shell script sending one event', () => {
  it.each(['otlp', 'clickhouse'])('stores it through %s and prints what was sent', async (backend) => {
    const project = `cli-one-${backend}`;
    const result = await cli(['send', '--event', 'deploy', '--attr', 'version=1.4.2', '--attr', 'region=eu', '--status', 'error', '--duration', '5400', '--project', project, '--backend', backend, '--json'], home.env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ sent: 1, backend, event: { event: 'deploy', project, status: 'error', duration_ms: 5400, attributes: { version: '1.4.2', region: 'eu' } } });
    expect(await rows('SELECT span_name, status_code, duration_ms, attributes FROM telemetry.traces WHERE project_name = {p:String}', { p: project })).toEqual([
      { span_name: 'deploy', status_code: 'ERROR', duration_ms: 5400, attributes: { version: '1.4.2', region: 'eu' } },
    ]);
  });

  it('is told "authentication failed", with user and endpoint, when the password is wrong', async () => {
    for (const backend of ['otlp', 'clickhouse']) {
      const result = await cli(['send', '--event', 'x', '--backend', backend], { ...home.env, AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD: 'wrong' });
      expect(result.code).toBe(1);
      const endpoint = backend === 'otlp' ? vars.AUTOMAGIK_TELEMETRY_ENDPOINT : vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT;
      expect(result.stderr).toContain(`authentication failed for user "telemetry_ingest" at ${endpoint}`);
    }
  });

  it('gets exit 2 for a malformed --attr', async () => {
    const result = await cli(['send', '--event', 'x', '--attr', 'novalue'], home.env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--attr "novalue" is not key=value');
  });
});

describe('a pipeline sending JSON lines on stdin', () => {
  it('stores the good lines, reports the bad one by number, and exits non-zero (the README example)', async () => {
    const result = await cli(['send', '--stdin', '--project', 'readme-example'], home.env, '{"event":"a"}\nnot json\n{"event":"b"}\n');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('line 2: not JSON');
    expect(result.stderr).toMatch(/sent 2, rejected 1, in \d+\.\d\d s, \d+ events\/s/);
    expect(await rows("SELECT span_name FROM telemetry.traces WHERE project_name = 'readme-example' ORDER BY span_name")).toEqual([{ span_name: 'a' }, { span_name: 'b' }]);
  });

  it('counts 10,000 lines with bad ones sprinkled in exactly, naming each bad line and why', async () => {
    const lines: string[] = [];
    const bad = new Map<number, string>();
    for (let i = 1; i <= 10_000; i++) {
      if (i % 997 === 0) {
        lines.push(`{"event": "e${i}", "duration_ms": "slow"}`);
        bad.set(i, '"duration_ms" must be a number >= 0, got "slow"');
      } else if (i % 1201 === 0) {
        lines.push(`{"attributes": {"k": "v"}}`);
        bad.set(i, 'missing field "event"');
      } else if (i % 1499 === 0) {
        lines.push('{"event": "truncated"');
        bad.set(i, 'not JSON');
      } else {
        lines.push(JSON.stringify({ event: `bulk.${i % 7}`, attributes: { i }, status: i % 10 === 0 ? 'error' : 'ok', duration_ms: i % 250 }));
      }
    }
    const result = await cli(['send', '--stdin', '--project', 'bulk', '--backend', 'clickhouse', '--json'], home.env, `${lines.join('\n')}\n`);
    expect(result.code).toBe(1);
    const summary = JSON.parse(result.stdout) as { read: number; sent: number; rejected: number; failed: number };
    expect(summary).toMatchObject({ read: 10_000, sent: 10_000 - bad.size, rejected: bad.size, failed: 0 });
    const reported = result.stderr.trim().split('\n').filter((l) => l.startsWith('line '));
    expect(reported).toHaveLength(bad.size);
    for (const [line, reason] of bad) expect(reported).toContainEqual(expect.stringContaining(`line ${line}: ${reason}`));
    const [stored] = await rows<{ n: number; errors: number }>("SELECT count() AS n, countIf(status_code = 'ERROR') AS errors FROM telemetry.traces WHERE project_name = 'bulk'");
    expect(stored?.n).toBe(10_000 - bad.size);
    const goodErrors = lines.filter((l, idx) => !bad.has(idx + 1) && l.includes('"status":"error"')).length;
    expect(stored?.errors).toBe(goodErrors);
  });

  it('stops at the first bad line with --strict, keeping what came before it', async () => {
    const input = '{"event":"one"}\n{"event":"two"}\n{"event": 3}\n{"event":"four"}\n';
    const result = await cli(['send', '--stdin', '--strict', '--project', 'strict'], home.env, input);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('line 3: "event" must be a non-empty string, got 3');
    expect(result.stderr).toContain('stopped at the first bad line (--strict)');
    expect(await rows("SELECT span_name FROM telemetry.traces WHERE project_name = 'strict' ORDER BY span_name")).toEqual([{ span_name: 'one' }, { span_name: 'two' }]);
  });

  it('exits 0 when every line was stored', async () => {
    const result = await cli(['send', '--stdin', '--project', 'clean'], home.env, '{"event":"x","timestamp":"2026-11-20T10:00:00Z"}\r\n\n{"event":"y","timestamp":1763632800000}\n');
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/sent 2, rejected 0/);
  });
});

describe('automagik-telemetry test', () => {
  it('round-trips the sample set through both backends and reports each', async () => {
    const result = await cli(['test', '--json'], home.env);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { ok: boolean; results: Array<{ backend: string; sent: number; found: number; ok: boolean }> };
    expect(report.ok).toBe(true);
    expect(report.results.map((r) => [r.backend, r.sent, r.found, r.ok])).toEqual([
      ['otlp', 6, 6, true],
      ['clickhouse', 6, 6, true],
    ]);
  });

  it('fails at once with exit 3 and the command that starts the stack when it is not running', async () => {
    const stopped = await makeTestHome();
    const result = await cli(['test', '--backend', 'clickhouse', '--timeout', '500'], stopped.env);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/the stack is not running: nothing answers at 127\.0\.0\.1:\d+/);
    expect(result.stderr).toContain('automagik-telemetry start');
    await stopped.cleanup();
  });
});
