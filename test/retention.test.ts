import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStatement } from '../src/clickhouse/http-client.js';
import { withRetention } from '../src/schema/retention.js';
import { cli } from './helpers/cli.js';
import { makeTestHome } from './helpers/home.js';
import { startStack, type RunningStack } from './helpers/stack.js';

const DAY = 24 * 3600 * 1000;
/** ClickHouse DateTime64 text for a time `daysAgo` days back. */
const ago = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY).toISOString().replace('T', ' ').replace('Z', '');

describe('AUTOMAGIK_TELEMETRY_RETENTION_DAYS on the embedded engine', () => {
  let stack: RunningStack;
  const admin = (sql: string) =>
    runStatement({ url: stack.vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT ?? '', ...stack.roles.admin, database: 'telemetry' }, sql);
  const status = async (extra: NodeJS.ProcessEnv = {}) => JSON.parse((await cli(['status', '--json'], { ...stack.home.env, ...extra })).stdout) as { retention?: { days: number; tables?: number } };
  const ttlDays = async () =>
    Object.fromEntries(
      (await stack.rows<{ name: string; ttl: string }>(
        "SELECT name, extract(create_table_query, 'TTL .*toIntervalDay\\\\((\\\\d+)\\\\)') AS ttl FROM system.tables WHERE database = 'telemetry' AND engine LIKE '%MergeTree' ORDER BY name",
      )).map((r) => [r.name, r.ttl]),
    );
  const counts = async () =>
    (await stack.rows<{ traces: number; logs: number; metrics: number; hourly: number }>(
      `SELECT (SELECT count() FROM telemetry.traces WHERE span_name = 'old') AS traces, (SELECT count() FROM telemetry.logs WHERE body = 'old') AS logs,
              (SELECT count() FROM telemetry.metrics WHERE metric_name = 'old') AS metrics, (SELECT sum(total_count) FROM telemetry.metrics_hourly WHERE project_name = 'aged') AS hourly`,
    ))[0];

  beforeAll(async () => {
    stack = await startStack();
  }, 60_000);
  afterAll(() => stack?.stop());

  it('keeps rows 90 days by default: every table says so, and status shows it', async () => {
    expect((await status()).retention).toEqual({ days: 90, tables: 90 });
    const ttl = await ttlDays();
    for (const table of ['traces', 'logs', 'metrics', 'metrics_hourly_state', 'metric_points_hourly_state']) expect(ttl[table], table).toBe('90');
    const human = await cli(['status'], stack.home.env);
    expect(human.stdout).toMatch(/^ +retention +90 days$/m);
  });

  it('after a restart with 7, every table keeps 7 days, and rows 30 days old are gone once parts merge', async () => {
    // 30-day-old rows are inside 90 days: stored, and rolled up.
    await admin(
      `INSERT INTO telemetry.traces (trace_id, span_id, timestamp, service_name, span_name, project_name) VALUES ('t1', 's1', '${ago(30)}', 'svc', 'old', 'aged'), ('t2', 's2', '${ago(1)}', 'svc', 'recent', 'aged')`,
    );
    await admin(`INSERT INTO telemetry.logs (timestamp, observed_timestamp, body, service_name, project_name) VALUES ('${ago(30)}', '${ago(30)}', 'old', 'svc', 'aged')`);
    await admin(`INSERT INTO telemetry.metrics (timestamp, start_timestamp, metric_name, metric_type, value, service_name, project_name) VALUES ('${ago(30)}', '${ago(30)}', 'old', 'gauge', 1, 'svc', 'aged')`);
    expect(await counts()).toEqual({ traces: 1, logs: 1, metrics: 1, hourly: 2 });

    // Changed while running: status says what the tables have and when the new value applies.
    expect((await status({ AUTOMAGIK_TELEMETRY_RETENTION_DAYS: '7' })).retention).toEqual({ days: 7, tables: 90 });
    expect((await cli(['status'], { ...stack.home.env, AUTOMAGIK_TELEMETRY_RETENTION_DAYS: '7' })).stdout).toMatch(
      /^ +retention +90 days now; 7 days \(AUTOMAGIK_TELEMETRY_RETENTION_DAYS\) from the next start$/m,
    );

    const restarted = await cli(['restart'], { ...stack.home.env, AUTOMAGIK_TELEMETRY_RETENTION_DAYS: '7' });
    expect(restarted.code, restarted.stderr).toBe(0);
    expect((await status({ AUTOMAGIK_TELEMETRY_RETENTION_DAYS: '7' })).retention).toEqual({ days: 7, tables: 7 });
    const ttl = await ttlDays();
    for (const table of ['traces', 'logs', 'metrics', 'metrics_hourly_state', 'metric_points_hourly_state']) expect(ttl[table], table).toBe('7');

    for (const table of ['traces', 'logs', 'metrics', 'metrics_hourly_state']) await admin(`OPTIMIZE TABLE telemetry.${table} FINAL`);
    expect(await counts()).toEqual({ traces: 0, logs: 0, metrics: 0, hourly: 1 });
    expect(await stack.rows('SELECT span_name FROM telemetry.traces')).toEqual([{ span_name: 'recent' }]);
  });

  it('refuses schema apply --docker and --cluster against the running embedded engine, saying what to do', async () => {
    for (const flag of [['--docker'], ['--cluster', 'telemetry_cluster']]) {
      const result = await cli(['schema', 'apply', ...flag], stack.home.env);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`${flag[0]} is for a ClickHouse server; this home's running stack is the embedded engine`);
    }
  });

  it('a restart with the same value changes nothing', async () => {
    const restarted = await cli(['restart'], { ...stack.home.env, AUTOMAGIK_TELEMETRY_RETENTION_DAYS: '7' });
    expect(restarted.code).toBe(0);
    expect((await status({ AUTOMAGIK_TELEMETRY_RETENTION_DAYS: '7' })).retention).toEqual({ days: 7, tables: 7 });
  });
});

describe('a retention that is not a whole number of days from 1 to 3650', () => {
  it.each(['0', '3651', '7.5', 'a week', '-3'])('is refused, naming the variable: %s', async (value) => {
    const h = await makeTestHome({ AUTOMAGIK_TELEMETRY_RETENTION_DAYS: value });
    try {
      const result = await cli(['start'], h.env);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(`AUTOMAGIK_TELEMETRY_RETENTION_DAYS=${JSON.stringify(value)} (from environment) is not valid: expected a whole number of days from 1 to 3650`);
    } finally {
      await h.cleanup();
    }
  });
});

describe('the retention in DDL', () => {
  it("rewrites every TTL's days and nothing else", () => {
    const ddl = "CREATE TABLE t (a DateTime) ENGINE = MergeTree ORDER BY a\nTTL toDateTime(a) + INTERVAL 90 DAY\nSETTINGS x = 1;\nSELECT now() + INTERVAL 90 DAY";
    expect(withRetention(ddl, 7)).toBe("CREATE TABLE t (a DateTime) ENGINE = MergeTree ORDER BY a\nTTL toDateTime(a) + INTERVAL 7 DAY\nSETTINGS x = 1;\nSELECT now() + INTERVAL 90 DAY");
  });
});
