import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { overviewDashboard } from '../src/dashboard/grafana.js';
import { templatePath } from '../src/paths.js';
import { chromiumAvailable, launchChromium } from './helpers/browser.js';
import { cli } from './helpers/cli.js';
import { expandGrafana } from './helpers/grafana-macros.js';
import { startStack, type RunningStack } from './helpers/stack.js';

const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts');
const now = Date.now();
const MIN = 60_000;

/** web: 40 events in the last 30 minutes (8 errors); api: 25 events 3-5 hours ago (5 errors). */
const events = [
  ...Array.from({ length: 40 }, (_, i) => ({ event: i % 2 ? 'page.view' : 'click', project: 'web', status: i % 5 === 0 ? 'error' : 'ok', duration_ms: 10 + i, timestamp: new Date(now - 30 * MIN + i * 40_000).toISOString() })),
  ...Array.from({ length: 25 }, (_, i) => ({ event: 'api.call', project: 'api', status: i % 5 === 0 ? 'error' : 'ok', duration_ms: 100 + i * 10, timestamp: new Date(now - 5 * 60 * MIN + i * 4 * MIN).toISOString() })),
];

let stack: RunningStack;
beforeAll(async () => {
  stack = await startStack();
  const sent = await cli(['send', '--stdin', '--backend', 'clickhouse'], stack.home.env, events.map((e) => JSON.stringify({ ...e, attributes: { k: 'v' } })).join('\n'));
  if (sent.code !== 0) throw new Error(sent.stderr);
});
afterAll(() => stack.stop());

describe('the provisioned Grafana dashboard', () => {
  it('is exactly the typed definition (regenerate with npm run dashboards)', async () => {
    const file = JSON.parse(await readFile(templatePath('grafana', 'dashboards', 'overview.json'), 'utf8')) as unknown;
    expect(file).toEqual(JSON.parse(JSON.stringify(overviewDashboard())));
  });

  it('has the overview panels, each with $__timeFilter, and project and environment variables', () => {
    const dashboard = overviewDashboard();
    expect(dashboard.panels?.map((p) => p.title)).toEqual([
      'Total events', 'Errors', 'Error rate', 'p95 latency', 'Events over time', 'Latency over time (ms)', 'Events by project', 'Top events', 'Recent errors',
    ]);
    for (const panel of dashboard.panels ?? []) {
      const sql = ((panel as { targets?: Array<{ rawSql?: string }> }).targets?.[0]?.rawSql ?? '') as string;
      expect(sql, panel.title).toContain('$__timeFilter(timestamp)');
    }
    expect(dashboard.templating?.list?.map((v) => v.name)).toEqual(['project', 'environment']);
  });

  it('runs every panel query on the engine, macros expanded as Grafana does, with the right numbers', async () => {
    const dashboard = overviewDashboard();
    const results = new Map<string, Array<Record<string, unknown>>>();
    for (const panel of dashboard.panels ?? []) {
      const raw = (panel as { targets?: Array<{ rawSql?: string }> }).targets?.[0]?.rawSql ?? '';
      const sql = expandGrafana(raw, { from: new Date(now - 60 * MIN), to: new Date(now + MIN), intervalSeconds: 60, variables: { project: ['web', 'api'], environment: [''] } });
      results.set(panel.title ?? '', await stack.rows(sql));
    }
    expect(results.get('Total events')).toEqual([{ value: 40 }]);
    expect(results.get('Errors')).toEqual([{ value: 8 }]);
    expect(results.get('Error rate')).toEqual([{ value: 20 }]);
    expect(results.get('Events by project')).toEqual([{ project: 'web', events: 40 }]);
    expect(results.get('Top events')?.map((r) => [r.event, r.events])).toEqual([['click', 20], ['page.view', 20]]);
    expect(results.get('Recent errors')).toHaveLength(8);
    const series = results.get('Events over time') ?? [];
    expect(series.reduce((n, r) => n + Number(r.events), 0)).toBe(40);
    expect(series.reduce((n, r) => n + Number(r.errors), 0)).toBe(8);
    const wide = expandGrafana(
      (overviewDashboard().panels?.[0] as unknown as { targets: Array<{ rawSql: string }> }).targets[0]?.rawSql ?? '',
      { from: new Date(now - 24 * 60 * MIN), to: new Date(now + MIN), intervalSeconds: 600, variables: { project: ['api'], environment: [''] } },
    );
    expect(await stack.rows(wide)).toEqual([{ value: 25 }]);
  });
});

const browserReady = await chromiumAvailable();

describe.skipIf(!browserReady)('the built-in dashboard in a real browser', () => {
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  let base: string;

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    base = `http://127.0.0.1:${stack.home.env.AUTOMAGIK_TELEMETRY_DASHBOARD_PORT}`;
  });
  afterAll(async () => {
    await browser?.close();
  });

  const loaded = (range: string, project: string) => page.waitForSelector(`body[data-loaded="${range}|${project}"]`);
  const value = async (id: string) => (await page.textContent(`[data-testid="value-${id}"]`))?.trim();

  it('sends a visitor without a session to the login form, and refuses the API', async () => {
    await page.goto(`${base}/`);
    expect(new URL(page.url()).pathname).toBe('/login');
    const api = await fetch(`${base}/api/panels?range=1h`);
    expect(api.status).toBe(401);
  });

  it('says so when the password is wrong', async () => {
    await page.fill('#password', 'not-the-password');
    await page.click('#sign-in');
    await page.waitForSelector('#failed:not([hidden])');
    expect(new URL(page.url()).search).toBe('?failed=1');
  });

  it('logs in and shows the panels with the numbers of the seeded data', async () => {
    await page.fill('#password', stack.roles.reader.password);
    await page.click('#sign-in');
    await loaded('1h', '');
    expect(await value('total')).toBe('40');
    expect(await value('errors')).toBe('8');
    expect(await value('error_rate')).toBe('20%');
    expect(await page.textContent('[data-testid="bars-by_project"]')).toContain('web');
    expect(await page.locator('[data-testid="table-recent_errors"] tbody tr').count()).toBe(8);
    expect(Number(await page.getAttribute('[data-testid="chart-events_over_time"]', 'data-points'))).toBeGreaterThan(0);
    await page.waitForSelector('[data-testid="chart-events_over_time"] canvas');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-1h.png'), fullPage: true });
  });

  it('changes the numbers with the time range and the project filter', async () => {
    await page.click('[data-range="24h"]');
    await loaded('24h', '');
    expect(await value('total')).toBe('65');
    expect(await value('errors')).toBe('13');
    await page.selectOption('#project', 'api');
    await loaded('24h', 'api');
    expect(await value('total')).toBe('25');
    expect(await page.textContent('[data-testid="table-top_events"]')).toContain('api.call');
    await page.click('[data-range="15m"]');
    await loaded('15m', 'api');
    expect(await value('total')).toBe('0');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-filtered.png'), fullPage: true });
  });

  it('logged no console errors', () => {
    expect(consoleErrors).toEqual([]);
  });

  it('teaches how to send data when the store is empty', async () => {
    const empty = await startStack();
    try {
      const emptyPage = await browser.newPage();
      await emptyPage.goto(`http://127.0.0.1:${empty.home.env.AUTOMAGIK_TELEMETRY_DASHBOARD_PORT}/login`);
      await emptyPage.fill('#password', empty.roles.reader.password);
      await emptyPage.click('#sign-in');
      await emptyPage.waitForSelector('#empty:not([hidden])');
      const text = await emptyPage.textContent('#empty');
      expect(text).toContain('npx automagik-telemetry send --event hello');
      expect(text).toContain("new AutomagikTelemetry({ projectName: 'my-app' })");
      await emptyPage.screenshot({ path: join(ARTIFACTS, 'dashboard-empty.png') });
    } finally {
      await empty.stop();
    }
  });
});

describe('automagik-telemetry dashboard', () => {
  it('prints the built-in dashboard URL for the embedded engine', async () => {
    const result = await cli(['dashboard', '--json'], stack.home.env);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ engine: 'embedded', url: `http://127.0.0.1:${stack.home.env.AUTOMAGIK_TELEMETRY_DASHBOARD_PORT}/` });
  });
});
