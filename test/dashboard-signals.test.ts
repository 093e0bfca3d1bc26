import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logsDashboard, metricsDashboard } from '../src/dashboard/grafana-signals.js';
import { templatePath } from '../src/paths.js';
import { cli } from './helpers/cli.js';
import { expandGrafana } from './helpers/grafana-macros.js';
import { startStack, type RunningStack } from './helpers/stack.js';

const now = Date.now();
const MIN = 60_000;

/** shop: 30 log lines in the last 30 minutes (every 5th a warning, every 10th an error), on two services; old: 5 lines 3 hours ago. */
const logLines = [
  ...Array.from({ length: 30 }, (_, i) => ({ type: 'log', message: `line ${i}`, severity: i % 10 === 0 ? 'error' : i % 5 === 0 ? 'warn' : 'info', project: 'shop', timestamp: new Date(now - 30 * MIN + i * MIN).toISOString() })),
  ...Array.from({ length: 5 }, (_, i) => ({ type: 'log', message: `old ${i}`, project: 'old', timestamp: new Date(now - 180 * MIN + i * MIN).toISOString() })),
];
/** shop: a gauge sampled 10 times (values 0..9) and a histogram observed 4 times (10, 20, 30, 40), in the last 20 minutes. */
const metricLines = [
  ...Array.from({ length: 10 }, (_, i) => ({ type: 'metric', name: 'queue.depth', value: i, project: 'shop', timestamp: new Date(now - 20 * MIN + i * MIN).toISOString() })),
  ...[10, 20, 30, 40].map((v, i) => ({ type: 'metric', name: 'latency', kind: 'histogram', unit: 'ms', value: v, project: 'shop', timestamp: new Date(now - 10 * MIN + i * MIN).toISOString() })),
];

let stack: RunningStack;
beforeAll(async () => {
  stack = await startStack();
  const sent = await cli(['send', '--stdin'], stack.home.env, [...logLines, ...metricLines].map((l) => JSON.stringify(l)).join('\n'));
  if (sent.code !== 0) throw new Error(sent.stderr);
  // One more error, sent on its own.
  const other = await cli(['send', '--stdin'], { ...stack.home.env }, JSON.stringify({ type: 'log', message: 'from payments', project: 'shop', severity: 'error', timestamp: new Date(now - 5 * MIN).toISOString() }));
  if (other.code !== 0) throw new Error(other.stderr);
});
afterAll(() => stack.stop());

async function run(dashboard: ReturnType<typeof logsDashboard>, variables: Record<string, string[]>, fromMinutesAgo = 60): Promise<Map<string, Array<Record<string, unknown>>>> {
  const results = new Map<string, Array<Record<string, unknown>>>();
  for (const panel of dashboard.panels ?? []) {
    const raw = (panel as { targets?: Array<{ rawSql?: string }> }).targets?.[0]?.rawSql ?? '';
    expect(raw, panel.title).toMatch(/\$__timeFilter\((timestamp|hour)\)/);
    const sql = expandGrafana(raw, { from: new Date(now - fromMinutesAgo * MIN), to: new Date(now + MIN), intervalSeconds: 300, variables });
    results.set(panel.title ?? '', await stack.rows(sql));
  }
  return results;
}

describe('the provisioned Grafana Logs and Metrics dashboards', () => {
  it('are exactly their typed definitions (regenerate with npm run dashboards)', async () => {
    for (const [name, build] of [['logs', logsDashboard], ['metrics', metricsDashboard]] as const) {
      const file = JSON.parse(await readFile(templatePath('grafana', 'dashboards', `${name}.json`), 'utf8')) as unknown;
      expect(file, name).toEqual(JSON.parse(JSON.stringify(build())));
    }
  });

  it('Logs: every panel runs on the engine with macros expanded as Grafana does, with the right numbers', async () => {
    const dashboard = logsDashboard();
    expect(dashboard.templating?.list?.map((v) => v.name)).toEqual(['project', 'service', 'min_severity']);
    const all = await run(dashboard, { project: ['shop', 'old'], service: ['shop', 'old'], min_severity: ['0'] });
    expect(all.get('Log records')).toEqual([{ value: 31 }]);
    expect(all.get('Warnings')).toEqual([{ value: 3 }]);
    expect(all.get('Errors and fatals')).toEqual([{ value: 4 }]);
    expect(all.get('Log records by service')).toEqual([{ service: 'shop', records: 31 }]);
    const series = all.get('Log records over time, by severity') ?? [];
    expect(series.reduce((n, r) => n + Number(r.info_and_below) + Number(r.warn) + Number(r.error), 0)).toBe(31);
    const recent = all.get('Recent log records') ?? [];
    expect(recent.map((r) => r.body).slice(0, 3)).toEqual(['line 29', 'line 28', 'line 27']);
    expect(recent.find((r) => r.body === 'from payments')).toMatchObject({ severity: 'ERROR', service: 'shop' });
    const errorsOnly = await run(dashboard, { project: ['shop'], service: ['shop'], min_severity: ['17'] });
    expect(errorsOnly.get('Log records')).toEqual([{ value: 4 }]);
  });

  it('Metrics: every panel runs on the engine with macros expanded as Grafana does, with the right numbers', async () => {
    const dashboard = metricsDashboard();
    expect(dashboard.templating?.list?.map((v) => v.name)).toEqual(['project', 'metric']);
    // Three hours back, so the rollup's whole hours hold every point of the last 20 minutes.
    const results = await run(dashboard, { project: ['shop'], metric: ['queue.depth', 'latency'] }, 180);
    expect(results.get('Metrics')).toEqual([{ value: 2 }]);
    expect(results.get('Data points')).toEqual([{ value: 14 }]);
    expect(results.get('Data points per hour (rollup)')).toEqual([{ value: 14 }]);
    const gauges = results.get('Gauges and sums (mean value)') ?? [];
    expect(gauges.every((r) => r.metric_name === 'queue.depth')).toBe(true);
    const histograms = results.get('Histograms and summaries (mean observation)') ?? [];
    expect(histograms.every((r) => r.metric_name === 'latency')).toBe(true);
    expect(results.get('Metric catalog')).toEqual([
      { metric: 'latency', type: 'histogram', unit: 'ms', points: 4, last_value: null, observations: 4, description: '' },
      { metric: 'queue.depth', type: 'gauge', unit: '', points: 10, last_value: 9, observations: 0, description: '' },
    ]);
  });
});
