import { beforeAll, describe, expect, it } from 'vitest';
import { queryRows, runStatement, type ClickHouseConnection } from '../src/clickhouse/http-client.js';
import type { RunningEmbeddedServer } from '../src/engine/embedded/server.js';
import { cli } from './helpers/cli.js';
import { useInProcessEngine } from './helpers/engine.js';
import { startStack } from './helpers/stack.js';

const HOUR = 3_600_000;

/** `count` spans of `project`, spread over the last `hours` hours, every 7th an error. */
function spans(project: string, from: number, count: number, hours = 5): string {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      trace_id: `${project}-${from + i}`,
      span_id: 's',
      span_name: 'op',
      service_name: 'svc',
      project_name: project,
      timestamp: new Date(now - ((from + i) % hours) * HOUR - 1000).toISOString().replace('T', ' ').replace('Z', ''),
      duration_ms: (from + i) % 500,
      status_code: (from + i) % 7 === 0 ? 'ERROR' : 'OK',
    }),
  ).join('\n');
}

function points(project: string, from: number, count: number): string {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      timestamp: new Date(now - ((from + i) % 3) * HOUR - 1000).toISOString().replace('T', ' ').replace('Z', ''),
      metric_name: 'queue.depth',
      metric_type: 'gauge',
      value: (from + i) % 10,
      service_name: 'svc',
      project_name: project,
    }),
  ).join('\n');
}

async function post(connection: ClickHouseConnection, auth: string, table: string, body: string): Promise<void> {
  const url = new URL(connection.url);
  url.searchParams.set('query', `INSERT INTO telemetry.${table} FORMAT JSONEachRow`);
  const res = await fetch(url, { method: 'POST', body, headers: { Authorization: auth } });
  expect(res.status, await res.text()).toBe(200);
}

/** Per hour: what the raw rows give, and what the rollup view people query says. */
async function hourly(admin: ClickHouseConnection, project: string): Promise<{ raw: string[]; rollup: string[] }> {
  const raw = await queryRows<{ h: string; n: number; e: number }>(
    admin,
    `SELECT toString(toStartOfHour(timestamp)) AS h, count() AS n, countIf(status_code = 'ERROR') AS e FROM telemetry.traces WHERE project_name = {p:String} GROUP BY h ORDER BY h`,
    { p: project },
  );
  const rollup = await queryRows<{ h: string; n: number; e: number }>(
    admin,
    `SELECT toString(hour) AS h, total_count AS n, error_count AS e FROM telemetry.metrics_hourly WHERE project_name = {p:String} ORDER BY h`,
    { p: project },
  );
  return { raw: raw.map((r) => `${r.h} ${r.n} ${r.e}`), rollup: rollup.map((r) => `${r.h} ${r.n} ${r.e}`) };
}

async function stateTotal(admin: ClickHouseConnection, project: string): Promise<number> {
  const [row] = await queryRows<{ n: number }>(admin, 'SELECT toUInt64(sum(total_count)) AS n FROM telemetry.metrics_hourly_state WHERE project_name = {p:String}', { p: project });
  return Number(row?.n ?? 0);
}

async function until(check: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the hourly rollups of the embedded engine never disagree with the raw rows', () => {
  const engine = useInProcessEngine();
  let admin: ClickHouseConnection;
  let ingest: string;
  let server: RunningEmbeddedServer;

  beforeAll(() => {
    ({ server } = engine());
    admin = engine().connection('admin');
    ingest = engine().auth('ingest');
  });

  it('answers with every acknowledged row at once, and rolls the rows up within seconds (no view inside each insert)', async () => {
    const views = await queryRows<{ name: string }>(admin, "SELECT name FROM system.tables WHERE database = 'telemetry' AND engine = 'MaterializedView'");
    expect(views).toEqual([]);
    await Promise.all(Array.from({ length: 6 }, (_, c) => post(admin, ingest, 'traces', spans('fresh', c * 300, 300))));
    // Read right after the acknowledgements: rows not yet rolled up are aggregated when read.
    const now = await hourly(admin, 'fresh');
    expect(now.rollup).toEqual(now.raw);
    expect(now.raw.reduce((n, line) => n + Number(line.split(' ')[2]), 0)).toBe(1800);
    await until(async () => (await stateTotal(admin, 'fresh')) === 1800, 'the keeper to roll the rows up');
    expect((await hourly(admin, 'fresh')).rollup).toEqual(now.raw);
    expect(server.rollupCounters().advances).toBeGreaterThan(0);
  });

  it('keeps metric points rolled up the same way', async () => {
    await post(admin, ingest, 'metrics', points('gauges', 0, 900));
    const read = () =>
      queryRows<{ h: string; n: number; s: number }>(
        admin,
        "SELECT toString(hour) AS h, toUInt64(points) AS n, value_sum AS s FROM telemetry.metric_points_hourly WHERE project_name = 'gauges' ORDER BY h",
      );
    const raw = await queryRows<{ h: string; n: number; s: number }>(
      admin,
      "SELECT toString(toStartOfHour(timestamp)) AS h, count() AS n, sum(value) AS s FROM telemetry.metrics WHERE project_name = 'gauges' GROUP BY h ORDER BY h",
    );
    expect(await read()).toEqual(raw);
    await until(async () => Number((await queryRows<{ n: number }>(admin, "SELECT toUInt64(sum(points)) AS n FROM telemetry.metric_points_hourly_state WHERE project_name = 'gauges'"))[0]?.n) === 900, 'metric points rolled up');
    expect(await read()).toEqual(raw);
  });

  it('loses nothing from the rollup when rolling up fails, and catches up once it can write again', async () => {
    await post(admin, ingest, 'traces', spans('outage', 0, 400));
    await until(async () => (await stateTotal(admin, 'outage')) === 400, 'the first rows rolled up');
    // The rollup's table goes away (as a write to it would fail on a full disk): raw inserts still succeed.
    await runStatement(admin, 'RENAME TABLE telemetry.metrics_hourly_state TO telemetry.metrics_hourly_state_away');
    const failuresBefore = server.rollupCounters().failures;
    await post(admin, ingest, 'traces', spans('outage', 400, 400));
    await until(async () => server.rollupCounters().failures > failuresBefore, 'a failed roll-up');
    await runStatement(admin, 'RENAME TABLE telemetry.metrics_hourly_state_away TO telemetry.metrics_hourly_state');
    await until(async () => (await stateTotal(admin, 'outage')) === 800, 'the roll-up to catch up');
    const after = await hourly(admin, 'outage');
    expect(after.rollup).toEqual(after.raw);
  });
});

describe('a rollup that drifted is repaired hour by hour', () => {
  it('rebuilds on start the hours a crash left counted twice, and `schema check` rebuilds what it finds', async () => {
    const stack = await startStack();
    try {
      const admin = { url: stack.vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT, ...stack.roles.admin, database: 'telemetry' } as ClickHouseConnection;
      await post(admin, stack.auth('ingest'), 'traces', spans('crash', 0, 1000));
      await until(async () => (await stateTotal(admin, 'crash')) === 1000, 'rows rolled up');
      // What a crash between the two steps of a roll-up leaves: the states added, the watermark not moved.
      await runStatement(
        admin,
        `INSERT INTO telemetry.metrics_hourly_state SELECT toStartOfHour(timestamp) AS hour, project_name, count(), countIf(status_code = 'ERROR'), quantilesState(0.5, 0.95, 0.99)(duration_ms)
         FROM telemetry.traces WHERE project_name = 'crash' AND toStartOfHour(timestamp) = toStartOfHour(now() - INTERVAL 1 HOUR) GROUP BY hour, project_name`,
      );
      const drifted = await hourly(admin, 'crash');
      expect(drifted.rollup).not.toEqual(drifted.raw);

      const checked = await cli(['schema', 'check', '--json'], stack.home.env);
      expect(checked.code, checked.stderr).toBe(0);
      const report = JSON.parse(checked.stdout) as { rollups: Array<{ rollup: string; rebuiltHours: Array<{ hour: string; raw: number; rolledUp: number }> }> };
      const traces = report.rollups.find((r) => r.rollup === 'metrics_hourly');
      expect(traces?.rebuiltHours).toHaveLength(1);
      expect(traces?.rebuiltHours[0]?.rolledUp).toBe(2 * (traces?.rebuiltHours[0]?.raw ?? 0));
      const repaired = await hourly(admin, 'crash');
      expect(repaired.rollup).toEqual(repaired.raw);

      // The same drift, then a hard kill and a start: the engine repairs before it serves.
      await runStatement(
        admin,
        `INSERT INTO telemetry.metrics_hourly_state SELECT toStartOfHour(timestamp) AS hour, project_name, count(), 0, quantilesState(0.5, 0.95, 0.99)(duration_ms)
         FROM telemetry.traces WHERE project_name = 'crash' GROUP BY hour, project_name`,
      );
      const { pid } = JSON.parse((await cli(['status', '--json'], stack.home.env)).stdout) as { pid?: number };
      expect(typeof pid).toBe('number');
      process.kill(pid as number, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
      const restarted = await cli(['start'], stack.home.env);
      expect(restarted.code, restarted.stderr).toBe(0);
      const afterStart = await hourly(admin, 'crash');
      expect(afterStart.rollup).toEqual(afterStart.raw);
      const clean = JSON.parse((await cli(['schema', 'check', '--json'], stack.home.env)).stdout) as typeof report;
      expect(clean.rollups.every((r) => r.rebuiltHours.length === 0)).toBe(true);
    } finally {
      await stack.stop();
    }
  });
});
