import { spawn } from 'node:child_process';
import { writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRepl } from '../src/cli/repl.js';
import { templatePath } from '../src/paths.js';
import { CLI, cli } from './helpers/cli.js';
import { startStack, type RunningStack } from './helpers/stack.js';

let stack: RunningStack;
const now = Date.now();
const HOUR = 3_600_000;

/** The events the tests query: two projects over the last ten hours, some errors, known durations. */
const events = Array.from({ length: 120 }, (_, i) => ({
  event: ['page.view', 'checkout', 'login'][i % 3] as string,
  project: i % 4 === 0 ? 'other' : 'demo',
  status: i % 5 === 0 ? 'error' : 'ok',
  duration_ms: (i * 37) % 500,
  timestamp: new Date(now - 10 * HOUR + i * 5 * 60_000).toISOString(),
  attributes: { i },
}));

beforeAll(async () => {
  stack = await startStack();
  const sent = await cli(['send', '--stdin', '--backend', 'clickhouse'], stack.home.env, events.map((e) => JSON.stringify(e)).join('\n'));
  if (sent.code !== 0) throw new Error(sent.stderr);
});
afterAll(() => stack.stop());

describe('query: SQL from the terminal', () => {
  it('prints a table sized to the terminal, and rows and timing on stderr', async () => {
    const result = await cli(['query', "SELECT project_name, count() AS n FROM traces GROUP BY project_name ORDER BY project_name"], stack.home.env);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n').slice(0, 4)).toEqual(['project_name  n', '────────────  ──', 'demo          90', 'other         30']);
    expect(result.stderr).toMatch(/^2 rows in \d+ ms/);
  });

  it('prints JSON, CSV and TSV for scripts', async () => {
    const sql = "SELECT span_name, count() AS n FROM traces WHERE project_name = 'other' GROUP BY span_name ORDER BY span_name";
    const json = await cli(['query', sql, '--format', 'json'], stack.home.env);
    expect(JSON.parse(json.stdout)).toEqual([
      { span_name: 'checkout', n: 10 },
      { span_name: 'login', n: 10 },
      { span_name: 'page.view', n: 10 },
    ]);
    expect((await cli(['query', sql, '--format', 'csv'], stack.home.env)).stdout).toBe('"span_name","n"\n"checkout",10\n"login",10\n"page.view",10\n');
    expect((await cli(['query', sql, '--format', 'tsv'], stack.home.env)).stdout).toBe('span_name\tn\ncheckout\t10\nlogin\t10\npage.view\t10\n');
  });

  it('reads SQL from a file and from stdin', async () => {
    const file = join(stack.home.home, 'q.sql');
    await writeFile(file, 'SELECT 40 + 2 AS answer;\n');
    expect(JSON.parse((await cli(['query', '-f', file, '--format', 'json'], stack.home.env)).stdout)).toEqual([{ answer: 42 }]);
    expect(JSON.parse((await cli(['query', '--format', 'json'], stack.home.env, 'SELECT 7 AS seven')).stdout)).toEqual([{ seven: 7 }]);
  });

  it("shows ClickHouse's code and message for bad SQL, and exits 1", async () => {
    const result = await cli(['query', 'SELEC 1'], stack.home.env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Code: 62\. DB::Exception: Syntax error/);
  });
});

describe('the interactive prompt', () => {
  it('runs statements spanning lines once they end in ;, keeps history, and stops at \\q', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    output.resume();
    const ran: string[] = [];
    const historyFile = join(stack.home.home, 'history');
    const done = runRepl({ input, output, terminal: false, historyFile, execute: async (sql) => void ran.push(sql) });
    input.write('SELECT 1;\nSELECT\n  2\n;\n\n\\q\nSELECT 3;\n');
    await done;
    expect(ran).toEqual(['SELECT 1', 'SELECT\n  2']);
    expect(await readFile(historyFile, 'utf8')).toBe('SELECT 1\nSELECT   2\n');
  });
});

describe('query-traces', () => {
  it('prints the newest events of a project as JSON (the done-when example)', async () => {
    const result = await cli(['query-traces', '--project', 'demo', '--limit', '5', '--format', 'json'], stack.home.env);
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as Array<{ project_name: string; attributes: { i: string } }>;
    const expected = events.map((e, i) => ({ ...e, i })).filter((e) => e.project === 'demo').slice(-5).reverse().map((e) => String(e.i));
    expect(rows.map((r) => r.attributes.i)).toEqual(expected);
    expect(new Set(rows.map((r) => r.project_name))).toEqual(new Set(['demo']));
  });

  it('filters by event, status and time, binding each value as a parameter', async () => {
    const result = await cli(['query-traces', '--event', 'checkout', '--status', 'error', '--since', '5h', '--limit', '100', '--format', 'json'], stack.home.env);
    const rows = JSON.parse(result.stdout) as Array<{ span_name: string; status_code: string; timestamp: string }>;
    const expected = events.filter((e) => e.event === 'checkout' && e.status === 'error' && Date.parse(e.timestamp) >= now - 5 * HOUR - 60_000);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThanOrEqual(expected.length);
    for (const r of rows) expect([r.span_name, r.status_code]).toEqual(['checkout', 'ERROR']);
    const injection = await cli(['query-traces', '--project', "demo' OR 1=1 --", '--format', 'json'], stack.home.env);
    expect(JSON.parse(injection.stdout)).toEqual([]);
  });

  it('explains the accepted forms of a bad --since, exit 2', async () => {
    const result = await cli(['query-traces', '--since', 'yesterdayish'], stack.home.env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--since "yesterdayish" is not a time: use 30s, 15m, 1h, 7d, 2w');
  });

  it('--follow prints each new event once, in arrival order, until interrupted', async () => {
    const child = spawn(process.execPath, [CLI, 'query-traces', '--project', 'follow', '--follow', '--format', 'json'], { env: { PATH: process.env.PATH, NO_COLOR: '1', ...stack.home.env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    await new Promise((r) => setTimeout(r, 800));
    for (let batch = 0; batch < 3; batch++) {
      const lines = Array.from({ length: 40 }, (_, k) => JSON.stringify({ event: 'tail', project: 'follow', attributes: { n: batch * 40 + k } }));
      // Events with older timestamps arrive later: following is by arrival, so none is skipped.
      if (batch === 2) lines.push(JSON.stringify({ event: 'late', project: 'follow', timestamp: new Date(now - 2 * HOUR).toISOString(), attributes: { n: 999 } }));
      expect((await cli(['send', '--stdin', '--backend', batch % 2 ? 'otlp' : 'clickhouse'], stack.home.env, lines.join('\n'))).code).toBe(0);
    }
    for (let i = 0; i < 100 && out.trim().split('\n').filter(Boolean).length < 121; i++) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const seen = out.trim().split('\n').map((l) => (JSON.parse(l) as { attributes: { n: string } }).attributes.n);
    expect(seen).toHaveLength(121);
    expect(new Set(seen).size).toBe(121);
    expect(seen).toContain('999');
  });
});

describe('query-stats', () => {
  it('matches counts, error rate and percentiles computed from the raw rows, by project, from the hourly rollup', async () => {
    const result = await cli(['query-stats', '--since', '12h', '--by', 'project', '--format', 'json'], stack.home.env);
    expect(result.code).toBe(0);
    const stats = JSON.parse(result.stdout) as { source: string; rows: Array<{ bucket: string; total: number; errors: number; error_rate: number; p50_ms: number; p95_ms: number; p99_ms: number }> };
    expect(stats.source).toBe('metrics_hourly');
    const raw = await stack.rows<{ p: string; total: number; errors: number; q: number[] }>(
      "SELECT project_name AS p, count() AS total, countIf(status_code = 'ERROR') AS errors, quantiles(0.5, 0.95, 0.99)(duration_ms) AS q FROM traces WHERE project_name IN ('demo', 'other') GROUP BY p ORDER BY total DESC",
    );
    const fromEvents = (p: string) => events.filter((e) => e.project === p);
    for (const r of raw) {
      const row = stats.rows.find((s) => s.bucket === r.p);
      expect(row).toEqual({
        bucket: r.p,
        total: fromEvents(r.p).length,
        errors: fromEvents(r.p).filter((e) => e.status === 'error').length,
        error_rate: Math.round((r.errors / r.total) * 1e4) / 1e4,
        p50_ms: Math.round((r.q[0] as number) * 10) / 10,
        p95_ms: Math.round((r.q[1] as number) * 10) / 10,
        p99_ms: Math.round((r.q[2] as number) * 10) / 10,
      });
    }
  });

  it('answers short windows and --by event from the raw rows', async () => {
    const result = await cli(['query-stats', '--project', 'demo', '--since', '2h', '--by', 'event', '--format', 'json'], stack.home.env);
    const stats = JSON.parse(result.stdout) as { source: string; total: { total: number } };
    expect(stats.source).toBe('traces');
    const cutoff = Date.parse((JSON.parse(result.stdout) as { since: string }).since.replace(' ', 'T') + 'Z');
    expect(stats.total.total).toBe(events.filter((e) => e.project === 'demo' && Date.parse(e.timestamp) >= cutoff).length);
  });
});

describe('backup and restore', () => {
  const fingerprint = () =>
    stack.rows<{ n: number; h: string; m: string }>(
      'SELECT (SELECT count() FROM traces) AS n, (SELECT toString(groupBitXor(cityHash64(*))) FROM traces) AS h, (SELECT toString(groupBitXor(cityHash64(*))) FROM (SELECT * EXCEPT q FROM metrics_hourly)) AS m',
    );

  it('round-trips: backup, reset, restore gives back identical data and rollups', async () => {
    const before = await fingerprint();
    const file = join(stack.home.home, 'all.backup.gz');
    const backup = await cli(['backup', '--out', file, '--json'], stack.home.env);
    expect(backup.code).toBe(0);
    expect(JSON.parse(backup.stdout)).toMatchObject({ file, rows: before[0]?.n });

    expect((await cli(['reset', '--yes'], stack.home.env)).code).toBe(0);
    expect((await cli(['start'], stack.home.env)).code).toBe(0);
    expect((await fingerprint())[0]?.n).toBe(0);
    const restored = await cli(['restore', file, '--json'], stack.home.env);
    expect(restored.stderr).toBe('');
    expect(JSON.parse(restored.stdout)).toMatchObject({ rows: before[0]?.n, replaced: false });
    expect(await fingerprint()).toEqual(before);
  });

  it('refuses to restore rows already in the store unless --replace, leaving the store untouched', async () => {
    const before = await fingerprint();
    const file = join(stack.home.home, 'all.backup.gz');
    const again = await cli(['restore', file], stack.home.env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/\d+ of its \d+ rows are already in the store \(use --replace/);
    expect(await fingerprint()).toEqual(before);
    const noTty = await cli(['restore', file, '--replace'], stack.home.env);
    expect(noTty.stderr).toContain('needs a confirmation, but there is no terminal');
    const replaced = await cli(['restore', file, '--replace', '--yes', '--json'], stack.home.env);
    expect(JSON.parse(replaced.stdout)).toMatchObject({ replaced: true });
    expect(await fingerprint()).toEqual(before);
  });

  it('refuses a corrupt, a truncated and a foreign file with the reason, leaving the store untouched', async () => {
    const before = await fingerprint();
    const file = join(stack.home.home, 'all.backup.gz');
    const good = await readFile(file);
    const text = (await import('node:zlib')).gunzipSync(good).toString('utf8');
    const lines = text.split('\n');
    const cases: Array<[string, Buffer, RegExp]> = [
      ['corrupt.gz', gzipSync([lines[0], lines[1]?.replace(/"duration_ms":\d+/, '"duration_ms":99999'), ...lines.slice(2)].join('\n')), /checksum does not match its rows/],
      ['truncated.gz', good.subarray(0, Math.floor(good.length / 2)), /not a complete gzip file/],
      ['cut.gz', gzipSync(lines.slice(0, -2).join('\n')), /truncated \(no end marker\)/],
      ['foreign.gz', gzipSync('{"hello": "world"}\n'), /it is not an automagik-telemetry backup/],
      ['plain.txt', Buffer.from('not even gzip'), /not a complete gzip file/],
    ];
    for (const [name, content, reason] of cases) {
      const path = join(stack.home.home, name);
      await writeFile(path, content);
      const result = await cli(['restore', path, '--replace', '--yes'], stack.home.env);
      expect(result.code, name).toBe(1);
      expect(result.stderr, name).toMatch(reason);
      expect(result.stderr, name).toContain('the store was not changed');
    }
    expect(await fingerprint()).toEqual(before);
  });
});

describe('schema', () => {
  it('prints the server config for a given layout, and templates/cluster/ is that config for 2 x 2', async () => {
    const result = await cli(['schema', 'print', '--cluster', 'telemetry_cluster', '--shards', '3', '--replicas', '2'], {});
    expect(result.code).toBe(0);
    const xml = result.stdout.split('\n').filter((l) => l.startsWith('-- ')).map((l) => l.slice(3)).join('\n');
    expect(xml.match(/<shard>/g)).toHaveLength(3);
    expect(xml.match(/<replica>/g)).toHaveLength(6);
    expect(xml).toContain('<replica><host>clickhouse-s3-r2</host><port>9000</port></replica>');
    const { clusterConfigXml } = await import('../src/schema/cluster.js');
    expect(await readFile(templatePath('cluster', 'clickhouse', 'cluster.xml'), 'utf8')).toBe(clusterConfigXml('telemetry_cluster', 2, 2));
    const alone = await cli(['schema', 'print', '--cluster', 'c', '--shards', '2'], {});
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain('--shards and --replicas go together, with --cluster');
  });

  it('prints the single-node DDL', async () => {
    const result = await cli(['schema', 'print'], {});
    expect(result.stdout).toContain('CREATE TABLE IF NOT EXISTS telemetry.traces');
    expect(result.stdout).toContain('CREATE TABLE IF NOT EXISTS telemetry.logs');
    expect(result.stdout).toContain('CREATE TABLE IF NOT EXISTS telemetry.metrics\n');
  });

  it('prints cluster DDL that parses: replicated local tables, Distributed tables, a local rollup view', async () => {
    const result = await cli(['schema', 'print', '--cluster', 'telemetry_cluster'], {});
    expect(result.code).toBe(0);
    const statements = result.stdout.split(/;\n\n|;\n?$/).map((s) => s.trim()).filter(Boolean);
    // 19 for the tables and rollups; 15 for the collector's route (7 Null tables, 7 views, the old view dropped);
    // 10 for version 3 (watermarks, inserted_at indexes, rollup views); 5 for version 4's indexes.
    expect(statements.length).toBe(19 + 15 + 10 + 5);
    for (const statement of statements) {
      const [parsed] = await stack.rows<{ f: string }>('SELECT formatQuery({q:String}) AS f', { q: statement });
      expect(parsed?.f.length, statement.slice(0, 60)).toBeGreaterThan(0);
      expect(statement).toContain('ON CLUSTER telemetry_cluster');
    }
    expect(result.stdout).toContain("ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/telemetry/traces_local', '{replica}')");
    expect(result.stdout).toContain('ENGINE = Distributed(telemetry_cluster, telemetry, traces_local, cityHash64(trace_id))');
    expect(result.stdout).toContain("ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/telemetry/metrics_hourly_state_local', '{replica}')");
    expect(result.stdout).toMatch(/TO telemetry\.metrics_hourly_state_local AS[\s\S]*FROM telemetry\.traces_local/);
    expect(result.stdout).toContain('replicated_deduplication_window = 10000');
    // Version 2: logs and metrics as replicated tables, and the span events/links columns on both traces tables.
    expect(result.stdout).toContain("ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/telemetry/logs_local', '{replica}')");
    expect(result.stdout).toContain('ENGINE = Distributed(telemetry_cluster, telemetry, metrics_local, rand())');
    expect(result.stdout).toMatch(/TO telemetry\.metric_points_hourly_state_local AS[\s\S]*FROM telemetry\.metrics_local/);
    expect(result.stdout).toContain('ALTER TABLE telemetry.traces_local ON CLUSTER telemetry_cluster\n    ADD COLUMN IF NOT EXISTS events Nested');
    expect(result.stdout).toContain('ALTER TABLE telemetry.traces ON CLUSTER telemetry_cluster\n    ADD COLUMN IF NOT EXISTS events Nested');
    // Version 3: the insert-time index on the local tables only (a Distributed table has none), the rollups' views.
    expect(result.stdout).toContain('ALTER TABLE telemetry.traces_local ON CLUSTER telemetry_cluster ADD INDEX IF NOT EXISTS inserted_at_index');
    expect(result.stdout).not.toContain('ALTER TABLE telemetry.traces ON CLUSTER telemetry_cluster ADD INDEX');
    expect(result.stdout).toContain('CREATE OR REPLACE VIEW telemetry.metrics_hourly_states ON CLUSTER telemetry_cluster AS');
    // Version 4: the trace_id skip index on the local tables only (a Distributed table has no indexes).
    expect(result.stdout).toContain('ALTER TABLE telemetry.traces_local ON CLUSTER telemetry_cluster ADD INDEX IF NOT EXISTS trace_id_index');
  });
});
