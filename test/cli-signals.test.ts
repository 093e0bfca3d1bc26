import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { startStack, type RunningStack } from './helpers/stack.js';

let stack: RunningStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.stop());

const TRACE = '5b8efff798038103d269b633813fc60c';

describe('send --metric and send --log', () => {
  it('stores one point of each kind: a gauge, a counter increment and a histogram observation', async () => {
    for (const args of [
      ['--metric', 'queue.depth', '--value', '-3.5', '--attr', 'queue=mail'],
      ['--metric', 'jobs.done', '--value', '2', '--type', 'counter'],
      ['--metric', 'checkout.latency', '--value', '182', '--type', 'histogram', '--unit', 'ms'],
    ]) {
      const result = await cli(['send', ...args, '--project', 'cli-metrics'], stack.home.env);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^sent (gauge|counter|histogram) ".+" = [-\d.]+( ms)? \(project cli-metrics\) through OTLP in \d+ ms\n$/);
    }
    const rows = await stack.rows<Record<string, unknown>>(
      "SELECT metric_name, metric_type, value, count, sum, min, max, is_monotonic, temporality, unit, attributes FROM metrics WHERE project_name = 'cli-metrics' ORDER BY metric_name",
    );
    expect(rows).toEqual([
      { metric_name: 'checkout.latency', metric_type: 'histogram', value: 0, count: 1, sum: 182, min: 182, max: 182, is_monotonic: false, temporality: 'delta', unit: 'ms', attributes: {} },
      { metric_name: 'jobs.done', metric_type: 'sum', value: 2, count: 0, sum: 0, min: null, max: null, is_monotonic: true, temporality: 'delta', unit: '', attributes: {} },
      { metric_name: 'queue.depth', metric_type: 'gauge', value: -3.5, count: 0, sum: 0, min: null, max: null, is_monotonic: false, temporality: '', unit: '', attributes: { queue: 'mail' } },
    ]);
    const [bucket] = await stack.rows<{ i: number }>("SELECT indexOf(bucket_counts, 1) AS i, explicit_bounds[i - 1] AS lo, explicit_bounds[i] AS hi FROM metrics WHERE metric_name = 'checkout.latency'");
    expect(bucket).toMatchObject({ lo: 100, hi: 250 });
  });

  it('stores a log line with its severity, attributes and trace', async () => {
    const result = await cli(['send', '--log', 'payment gateway timeout', '--severity', 'ERROR', '--trace-id', TRACE, '--attr', 'gateway=acme', '--project', 'cli-logs', '--json'], stack.home.env);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ sent: 1, backend: 'otlp', project: 'cli-logs', log: 'payment gateway timeout' });
    expect(await stack.rows("SELECT body, severity_text, severity_number, trace_id, service_name, attributes FROM logs WHERE project_name = 'cli-logs'")).toEqual([
      { body: 'payment gateway timeout', severity_text: 'ERROR', severity_number: 17, trace_id: TRACE, service_name: 'cli-logs', attributes: { gateway: 'acme' } },
    ]);
  });

  it('says what is wrong with a bad value, type, severity or trace id, or a mix of what to send', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--metric', 'm', '--value', 'ten'], /--value "ten" is not a number/],
      [['--metric', 'm'], /--metric needs --value <n>/],
      [['--metric', 'm', '--value', '1', '--type', 'meter'], /--type "meter" is not one of gauge, counter, histogram/],
      [['--metric', 'm', '--value', '-1', '--type', 'counter'], /a counter only goes up/],
      [['--log', 'x', '--severity', 'loud'], /--severity "loud" is not one of trace, debug, info, warn, error, fatal/],
      [['--log', 'x', '--trace-id', 'abc'], /the trace id must be 32 hex characters/],
      [['--log', 'x', '--metric', 'm'], /--metric and --log do not go together/],
      [['--log', 'x', '--backend', 'clickhouse'], /--metric and --log go through OTLP/],
    ];
    for (const [args, message] of cases) {
      const result = await cli(['send', ...args], stack.home.env);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(message);
    }
  });
});

describe('send --stdin with "type" lines', () => {
  it('stores events, metrics and logs from one stream, reporting bad lines by their number', async () => {
    const lines = [
      '{"event": "signup", "project": "mixed"}',
      '{"type": "metric", "name": "cart.size", "value": 3, "kind": "histogram", "project": "mixed", "attributes": {"plan": "pro"}}',
      '{"type": "log", "message": "user signed up", "severity": "info", "trace_id": "' + TRACE + '", "project": "mixed"}',
      '{"type": "event", "event": "login", "project": "mixed"}',
      '{"type": "metric", "name": "cart.size", "value": "three"}',
      '{"type": "trace", "event": "x"}',
      '{"event": "logout", "project": "mixed", "color": "red"}',
      '',
      '{"type": "log", "message": "at a set time", "timestamp": "' + new Date(Date.now() - 3_600_000).toISOString() + '", "project": "mixed", "severity": "debug"}',
    ];
    const result = await cli(['send', '--stdin', '--json'], stack.home.env, `${lines.join('\n')}\n`);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ read: 8, rejected: 3, sent: 5, failed: 0 });
    expect(result.stderr).toContain('line 5: "value" must be a number, got "three"');
    expect(result.stderr).toContain('line 6: "type" must be one of event, metric, log, got "trace"');
    expect(result.stderr).toContain('line 7: unknown field "color"');
    expect(await stack.rows("SELECT span_name FROM traces WHERE project_name = 'mixed' ORDER BY span_name")).toEqual([{ span_name: 'login' }, { span_name: 'signup' }]);
    expect(await stack.rows("SELECT metric_name, metric_type, sum, attributes FROM metrics WHERE project_name = 'mixed'")).toEqual([{ metric_name: 'cart.size', metric_type: 'histogram', sum: 3, attributes: { plan: 'pro' } }]);
    expect(await stack.rows("SELECT body, severity_text FROM logs WHERE project_name = 'mixed' ORDER BY timestamp")).toEqual([
      { body: 'at a set time', severity_text: 'DEBUG' },
      { body: 'user signed up', severity_text: 'INFO' },
    ]);
  });
});

describe('query-logs and query-metrics', () => {
  it('filters logs by severity, trace and text, newest first', async () => {
    const all = await cli(['query-logs', '--project', 'mixed', '--format', 'json'], stack.home.env);
    expect((JSON.parse(all.stdout) as Array<{ body: string }>).map((r) => r.body)).toEqual(['user signed up', 'at a set time']);
    const warn = await cli(['query-logs', '--severity', 'warn', '--format', 'json'], stack.home.env);
    expect((JSON.parse(warn.stdout) as Array<{ body: string }>).map((r) => r.body)).toEqual(['payment gateway timeout']);
    const traced = await cli(['query-logs', '--trace', TRACE, '--search', 'SIGNED', '--format', 'csv'], stack.home.env);
    expect(traced.stdout.split('\n')[1]).toMatch(/user signed up/);
    expect(traced.stdout.trim().split('\n')).toHaveLength(2);
    const table = await cli(['query-logs', '--project', 'cli-logs'], stack.home.env);
    expect(table.stdout).toMatch(/ERROR\s+cli-logs\s+payment gateway/);
    const since = await cli(['query-logs', '--project', 'mixed', '--since', '30m', '--format', 'json'], stack.home.env);
    expect((JSON.parse(since.stdout) as Array<{ body: string }>).map((r) => r.body)).toEqual(['user signed up']);
  });

  it('follows new log records as they arrive', async () => {
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('./helpers/cli.js');
    const child = spawn(process.execPath, [CLI, 'query-logs', '--project', 'follow', '--follow', '--format', 'json'], { env: { PATH: process.env.PATH, NO_COLOR: '1', ...stack.home.env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => setTimeout(r, 1500));
    await cli(['send', '--log', 'arrived later', '--project', 'follow'], stack.home.env);
    const deadline = Date.now() + 10_000;
    while (!out.includes('arrived later') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGINT');
    expect(out.trim().split('\n').map((l) => (JSON.parse(l) as { body: string }).body)).toEqual(['arrived later']);
  });

  it('sums metrics up by hour and by an attribute, raw or from the rollup', async () => {
    const byHour = await cli(['query-metrics', '--project', 'cli-metrics', '--format', 'json'], stack.home.env);
    const summary = JSON.parse(byHour.stdout) as { source: string; rows: Array<Record<string, unknown>> };
    expect(summary.source).toBe('metric_points_hourly');
    expect(summary.rows.map((r) => [r.metric, r.type, r.points, r.sum, r.count, r.last])).toEqual([
      ['checkout.latency', 'histogram', 1, 182, 1, null],
      ['jobs.done', 'sum', 1, 2, 0, 2],
      ['queue.depth', 'gauge', 1, -3.5, 0, -3.5],
    ]);
    const byAttribute = await cli(['query-metrics', '--name', 'queue.depth', '--by', 'attribute:queue', '--format', 'csv'], stack.home.env);
    expect(byAttribute.stdout.split('\n').slice(0, 2)).toEqual(['attribute:queue,metric,type,unit,points,sum,avg,min,max,last,count', 'mail,queue.depth,gauge,,1,-3.5,-3.5,-3.5,-3.5,-3.5,0']);
    const bad = await cli(['query-metrics', '--by', 'week'], stack.home.env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--by "week" is not one of hour, day, attribute:<key>');
  });
});

describe('test, env and status with all three signals', () => {
  it('test round-trips events, logs and metrics', async () => {
    const result = await cli(['test', '--backend', 'otlp', '--json'], stack.home.env);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { ok: boolean; signals: Array<{ signal: string; sent: number; found: number; ok: boolean }> };
    expect(report.ok).toBe(true);
    expect(report.signals.map((s) => [s.signal, s.found, s.ok])).toEqual([
      ['logs', 2, true],
      ['metrics', 3, true],
    ]);
  });

  it('env names the protocol, and status counts every table', async () => {
    expect(stack.vars.OTEL_EXPORTER_OTLP_PROTOCOL).toBe('http/protobuf');
    const status = JSON.parse((await cli(['status', '--json'], stack.home.env)).stdout) as { rows: Record<string, number> };
    const [counts] = await stack.rows<Record<string, number>>('SELECT toUInt32((SELECT count() FROM traces)) AS traces, toUInt32((SELECT count() FROM logs)) AS logs, toUInt32((SELECT count() FROM metrics)) AS metrics');
    expect(status.rows).toMatchObject(counts ?? {});
    expect(status.rows.logs).toBeGreaterThan(0);
    const text = await cli(['status'], stack.home.env);
    expect(text.stdout).toMatch(new RegExp(`rows\\s+${counts?.traces} in traces, ${counts?.logs} in logs, ${counts?.metrics} in metrics`));
  });
});
