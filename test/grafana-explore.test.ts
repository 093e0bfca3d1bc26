import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { overviewDashboard } from '../src/dashboard/grafana.js';
import { exploreSql, signalDefaults } from '../src/dashboard/grafana-explore.js';
import { templatePath } from '../src/paths.js';
import { expandGrafana } from './helpers/grafana-macros.js';
import { seedSignals } from './helpers/signal-fixture.js';
import { startStack, type RunningStack } from './helpers/stack.js';
import { CHECKOUT, HEALTH, IMPORT, seedTraces } from './helpers/trace-fixture.js';

const now = Date.now();
let stack: RunningStack;
const expand = (sql: string) => expandGrafana(sql, { from: new Date(now - 3_600_000), to: new Date(now + 60_000), intervalSeconds: 60, variables: {} });

beforeAll(async () => {
  stack = await startStack();
  await seedTraces(stack, now - 2 * 60_000, true);
  await seedSignals(stack, now);
});
afterAll(() => stack?.stop());

describe("Grafana Explore on the Docker stack's tables", () => {
  it("the provisioned datasource's logs and traces defaults are signalDefaults(), with the database from the environment", async () => {
    const file = parse(await readFile(templatePath('grafana', 'provisioning', 'datasources', 'clickhouse.yaml'), 'utf8')) as { datasources: Array<{ jsonData: Record<string, unknown> }> };
    const json = file.datasources[0]?.jsonData ?? {};
    expect({ logs: json.logs, traces: json.traces }).toEqual(signalDefaults('$CLICKHOUSE_DATABASE'));
  });

  it('every column the defaults name exists in our tables, with a type the plugin reads', async () => {
    const { logs, traces } = signalDefaults('telemetry');
    const types = async (table: string) =>
      new Map((await stack.rows<{ name: string; type: string }>('SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}', { db: 'telemetry', t: table })).map((c) => [c.name, c.type]));
    const logColumns = await types(logs.defaultTable);
    expect([logColumns.get(logs.timeColumn), logColumns.get(logs.levelColumn), logColumns.get(logs.messageColumn)]).toEqual(["DateTime64(9, 'UTC')", 'LowCardinality(String)', 'String']);
    const spanColumns = await types(traces.defaultTable);
    const named = [traces.traceIdColumn, traces.spanIdColumn, traces.parentSpanIdColumn, traces.operationNameColumn, traces.serviceNameColumn, traces.durationColumn, traces.startTimeColumn, traces.tagsColumn];
    expect(named.map((c) => spanColumns.get(c))).toEqual(['String', 'String', 'String', 'LowCardinality(String)', 'LowCardinality(String)', 'UInt32', "DateTime64(3, 'UTC')", 'Map(String, String)']);
  });

  it("the trace view's query, built from those columns as the plugin builds it, returns the trace's spans with Grafana's field names", async () => {
    const t = signalDefaults('telemetry').traces;
    // The plugin's trace-ID query (non-OTel): the columns under Grafana's trace data frame names, tags as key/value maps.
    const sql = `SELECT ${t.traceIdColumn} as traceID, ${t.spanIdColumn} as spanID, ${t.parentSpanIdColumn} as parentSpanID, ${t.serviceNameColumn} as serviceName,
      ${t.operationNameColumn} as operationName, multiply(toUnixTimestamp64Nano(${t.startTimeColumn}), 0.000001) as startTime, multiply(${t.durationColumn}, 1) as duration,
      arrayMap(key -> map('key', key, 'value', ${t.tagsColumn}[key]), mapKeys(${t.tagsColumn})) as tags
      FROM ${t.defaultDatabase}.${t.defaultTable} WHERE traceID = '${CHECKOUT}' ORDER BY startTime LIMIT 1000`;
    const spans = await stack.rows<{ spanID: string; parentSpanID: string; operationName: string; duration: number; tags: Array<{ key: string; value: string }> }>(sql);
    expect(spans.map((s) => [s.spanID, s.parentSpanID, s.operationName, Number(s.duration)])).toEqual([
      ['a000000000000001', '', 'GET /checkout', 120],
      ['a000000000000002', 'a000000000000001', 'charge card', 80],
      ['a000000000000003', 'a000000000000002', 'db.query', 30],
      ['a000000000000004', 'a000000000000001', 'render', 20],
    ]);
    expect(spans[1]?.tags).toEqual([{ key: 'card.brand', value: 'visa' }, { key: 'order.id', value: 'ord-1234' }]);
  });

  it("the overview links to Explore for traces and logs, and each link's query runs with Grafana's macros and names", async () => {
    const links = overviewDashboard().links ?? [];
    expect(links.map((l) => l.title)).toEqual(['Explore traces', 'Explore logs']);
    for (const [link, kind] of [[links[0], 'traces'], [links[1], 'logs']] as const) {
      const url = new URL(link?.url ?? '', 'http://grafana');
      expect(url.pathname).toBe('/explore');
      const panes = JSON.parse(url.searchParams.get('panes') ?? '{}') as Record<string, { datasource: string; queries: Array<{ queryType: string; rawSql: string; datasource: { uid: string } }> }>;
      const pane = panes[kind];
      expect(pane?.datasource).toBe('automagik-clickhouse');
      expect(pane?.queries[0]).toMatchObject({ queryType: kind, editorType: 'sql', rawSql: exploreSql()[kind], datasource: { uid: 'automagik-clickhouse' } });
    }
    const traces = await stack.rows<{ traceID: string; serviceName: string; operationName: string; startTime: number; duration: number }>(expand(exploreSql('telemetry').traces));
    expect(traces.map((r) => [r.traceID, r.operationName, Number(r.duration)])).toEqual([[CHECKOUT, 'GET /checkout', 120], [HEALTH, 'GET /health', 5], [IMPORT, 'batch.import', 5000]]);
    expect(Number(traces[0]?.startTime)).toBe(now - 2 * 60_000);
    const logs = await stack.rows<Record<string, unknown>>(expand(exploreSql('telemetry').logs));
    expect(Object.keys(logs[0] ?? {}).slice(0, 4)).toEqual(['timestamp', 'body', 'level', 'traceID']);
    expect(logs.filter((l) => l.traceID === CHECKOUT).map((l) => [l.body, l.level])).toEqual([['payment failed for order ord-1234', 'ERROR'], ['payment declined', 'ERROR']]);
  });
});
