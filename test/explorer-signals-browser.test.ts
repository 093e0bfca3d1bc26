import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from './helpers/browser.js';
import { logsRequest, postOtlp, SEEDED_LOGS, seedSignals } from './helpers/signal-fixture.js';
import { startStack, type RunningStack } from './helpers/stack.js';
import { CHECKOUT, seedTraces } from './helpers/trace-fixture.js';

const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts');
const DOCS = join(import.meta.dirname, '..', 'docs');
const now = Date.now();
const browserReady = await chromiumAvailable();
/** The few DOM globals read inside the page (the tests compile without the DOM library). */
type Doc = { document: { body: { getAttribute(name: string): string | null }; documentElement: { scrollWidth: number } }; location: { search: string } };
/** The checkout trace's own log (trace-fixture), 2 minutes back: the newest record. */
const TRACE_LOG = 'payment failed for order ord-1234';

describe.skipIf(!browserReady)('the log and metric explorers in a real browser', () => {
  let stack: RunningStack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let base: string;
  const consoleErrors: string[] = [];

  const watch = (p: Page) => {
    p.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`${p.url()}: ${m.text()}`);
    });
    p.on('pageerror', (e) => consoleErrors.push(`${p.url()}: ${String(e)}`));
  };
  /** Waits for the page to have drawn the state now in its URL. */
  const drawn = (p: Page = page) =>
    p.waitForFunction(() => {
      const g = globalThis as unknown as Doc;
      return g.document.body.getAttribute('data-loaded') === new URLSearchParams(g.location.search).toString();
    });
  const bodies = (p: Page = page) => p.$$eval('#log-list [data-testid="log"] .body', (els) => els.map((e) => e.textContent));
  const query = (p: Page = page) => new URL(p.url()).searchParams;
  /** The chart's legend: each series' label and the value it shows (the latest until the cursor points elsewhere). */
  const legend = (p: Page = page) => p.$$eval('#chart .u-legend .u-series', (rows) => rows.slice(1).map((r) => [r.querySelector('.u-label')?.textContent, r.querySelector('.u-value')?.textContent]));
  /** GET a JSON API path with the page's session. */
  const apiInPage = (path: string, p: Page = page) => p.evaluate(async (url) => (await fetch(url)).json(), path) as Promise<Record<string, any>>;

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    stack = await startStack();
    await seedTraces(stack, now - 2 * 60_000, true);
    await seedSignals(stack, now);
    base = `http://127.0.0.1:${stack.home.env.AUTOMAGIK_TELEMETRY_DASHBOARD_PORT}`;
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    page = await context.newPage();
    watch(page);
    await page.goto(`${base}/logs`);
    await page.fill('#password', stack.roles.reader.password);
    await page.click('#sign-in');
    await page.waitForURL((url) => url.pathname === '/', { waitUntil: 'commit' });
    // Records are listed once they are a second old.
    await new Promise((r) => setTimeout(r, 1_300));
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  describe('/logs', () => {
    it('lists the last hour newest first, with time, severity, service and body', async () => {
      await page.goto(`${base}/logs`);
      await drawn();
      expect(await bodies()).toEqual([TRACE_LOG, ...SEEDED_LOGS.slice(0, 4).map((l) => l.body)]);
      const declined = page.locator('[data-testid="log"]', { hasText: 'payment declined' });
      expect(await declined.locator('.severity').textContent()).toBe('ERROR');
      expect(await declined.locator('.service').textContent()).toBe('payments');
      expect(await page.textContent('[data-testid="summary"]')).toMatch(/^5 records/);
      await page.screenshot({ path: join(ARTIFACTS, 'logs.png'), fullPage: true });
    });

    it.each([
      ['#f-q', 'visa', 'q', ['payment declined']],
      ['#f-q', 'CARDS', 'q', ['slow query on cards']],
      ['#f-service', 'shop', 'service', ['cache miss for user u-42', 'order placed']],
      ['#f-project', 'nope', 'project', []],
      ['#f-trace_id', CHECKOUT, 'trace_id', [TRACE_LOG, 'payment declined']],
    ])('filters by %s = %s, and puts it in the URL', async (selector, value, parameter, expected) => {
      await page.goto(`${base}/logs?range=1h`);
      await drawn();
      await page.fill(selector, value);
      await page.click('#search-button');
      await page.waitForURL((url) => url.searchParams.get(parameter) === value);
      await drawn();
      expect(await bodies()).toEqual(expected);
    });

    it('filters by minimum severity', async () => {
      await page.goto(`${base}/logs`);
      await drawn();
      await page.selectOption('#f-severity', 'warn');
      await page.click('#search-button');
      await page.waitForURL(/severity=warn/);
      await drawn();
      expect(await bodies()).toEqual([TRACE_LOG, 'slow query on cards', 'payment declined']);
      await page.selectOption('#f-severity', 'error');
      await page.click('#search-button');
      await page.waitForURL(/severity=error/);
      await drawn();
      expect(await bodies()).toEqual([TRACE_LOG, 'payment declined']);
    });

    it("opens a log's trace at its span, and the trace's logs open back in /logs", async () => {
      await page.goto(`${base}/logs?q=declined`);
      await drawn();
      await page.click('[data-testid="log"] [data-testid="log-trace-link"]');
      await page.waitForURL((url) => url.pathname === `/traces/${CHECKOUT}`);
      expect(query().get('span')).toBe('a000000000000002');
      await page.waitForSelector(`body[data-loaded="${CHECKOUT}"]`);
      expect(await page.textContent('[data-testid="detail"] h2')).toBe('charge card');
      await page.waitForFunction(() => !(globalThis as unknown as { document: { getElementById(id: string): { getAttribute(n: string): string } } }).document.getElementById('logs-open').getAttribute('href').endsWith('/logs'));
      await page.click('[data-testid="logs-open"]');
      await page.waitForURL((url) => url.pathname === '/logs' && url.searchParams.get('trace_id') === CHECKOUT);
      await drawn();
      expect(await bodies()).toEqual([TRACE_LOG, 'payment declined']);
      await page.goBack();
      await page.waitForURL((url) => url.pathname === `/traces/${CHECKOUT}`);
    });

    it('live tail shows a record sent after the page loaded, exactly once', async () => {
      await page.goto(`${base}/logs?service=tailer`);
      await drawn();
      expect(await bodies()).toEqual([]);
      await page.check('#live');
      await page.waitForURL(/live=1/);
      await drawn();
      await page.waitForSelector('body[data-tailing="1"]');
      await postOtlp(stack, 'logs', logsRequest(Date.now(), [{ body: 'arrived while watching', severity: 'WARN', service: 'tailer', ago: 0, attributes: {} }]));
      await page.waitForFunction(() => (globalThis as unknown as { document: { body: { textContent: string } } }).document.body.textContent.includes('arrived while watching'), undefined, { timeout: 15_000 });
      // Three more polls bring nothing twice.
      const polled = Number(await page.getAttribute('body', 'data-polled'));
      await page.waitForFunction((n) => Number((globalThis as unknown as Doc).document.body.getAttribute('data-polled')) >= n + 3, polled, { timeout: 15_000 });
      expect(await bodies()).toEqual(['arrived while watching']);
      // A reload lists it once, from the search, and the tail goes on from there.
      await page.reload();
      await drawn();
      await page.waitForSelector('body[data-tailing="1"]');
      const again = Number(await page.getAttribute('body', 'data-polled') ?? 0);
      await page.waitForFunction((n) => Number((globalThis as unknown as Doc).document.body.getAttribute('data-polled')) >= n + 2, again, { timeout: 15_000 });
      expect(await bodies()).toEqual(['arrived while watching']);
      await page.uncheck('#live');
      await page.waitForURL((url) => !url.searchParams.has('live'));
      await drawn();
      expect(await page.getAttribute('body', 'data-tailing')).toBeNull();
    });

    it('keeps its state in the URL: a shared link reloads the same view, and Back returns the previous one', async () => {
      await page.goto(`${base}/logs?range=6h&severity=info&service=shop`);
      await drawn();
      expect(await page.inputValue('#f-severity')).toBe('info');
      expect(await page.inputValue('#f-service')).toBe('shop');
      expect(await page.getAttribute('[data-range="6h"]', 'class')).toContain('active');
      expect(await bodies()).toEqual(['order placed']);
      await page.click('[data-range="1h"]');
      await page.waitForURL(/range=1h/);
      await drawn();
      await page.goBack();
      await page.waitForURL(/range=6h/);
      await drawn();
      expect(await bodies()).toEqual(['order placed']);
      const fresh = await context.newPage();
      watch(fresh);
      await fresh.goto(page.url());
      await drawn(fresh);
      expect(await bodies(fresh)).toEqual(['order placed']);
      await fresh.close();
    });
  });

  describe('/metrics', () => {
    it('finds a metric by name and charts a gauge, split by an attribute', async () => {
      await page.goto(`${base}/metrics`);
      await drawn();
      expect(await page.$$eval('[data-metric]', (as) => as.map((a) => a.getAttribute('data-metric')))).toEqual(['http.duration', 'http.requests', 'queue.depth']);
      await page.fill('#m-search', 'queue');
      await page.waitForSelector('body[data-names="queue"]');
      expect(await page.$$eval('[data-metric]', (as) => as.map((a) => a.getAttribute('data-metric')))).toEqual(['queue.depth']);
      await page.click('[data-metric="queue.depth"]');
      await page.waitForURL((url) => url.searchParams.get('name') === 'queue.depth');
      await drawn();
      expect(await page.getAttribute('#chart', 'data-kind')).toBe('value');
      expect(await legend()).toEqual([['queue.depth', '14 {job}']]);
      await page.selectOption('#f-by', 'queue');
      await page.waitForURL((url) => url.searchParams.get('by') === 'queue');
      await drawn();
      expect(await legend()).toEqual([['queue=emails', '9 {job}'], ['queue=sms', '19 {job}']]);
      // The chart's values are the API's, which are the seeded ones (the API test checks every point).
      const api = await apiInPage('/api/metrics?name=queue.depth&by=queue');
      expect(api.series.map((s: { points: number[][] }) => s.points.at(-1)?.[1])).toEqual([9, 19]);
      await page.screenshot({ path: join(ARTIFACTS, 'metrics.png'), fullPage: true });
    });

    it('charts a counter as a rate per second, split by route', async () => {
      await page.goto(`${base}/metrics?name=http.requests`);
      await drawn();
      expect(await page.getAttribute('#chart', 'data-kind')).toBe('rate');
      expect(await page.textContent('[data-testid="metric-about"]')).toContain('rate per second');
      expect(await legend()).toEqual([['http.requests', '3 {request}/s']]);
      await page.selectOption('#f-by', 'route');
      await page.waitForURL((url) => url.searchParams.get('by') === 'route');
      await drawn();
      expect(await legend()).toEqual([['route=/a', '1 {request}/s'], ['route=/b', '2 {request}/s']]);
      await page.screenshot({ path: join(ARTIFACTS, 'metrics-rate.png'), fullPage: true });
    });

    it("charts a histogram's p50, p95 and p99, as the API computes them from the seeded bucket counts", async () => {
      await page.goto(`${base}/metrics?name=http.duration`);
      await drawn();
      expect(await page.getAttribute('#chart', 'data-kind')).toBe('quantiles');
      expect(await page.getAttribute('#chart', 'data-series')).toBe('3');
      expect(await legend()).toEqual([['p50', '36.667 ms'], ['p95', '300 ms'], ['p99', '460 ms']]);
      const api = await apiInPage('/api/metrics?name=http.duration');
      const p95 = api.series.find((s: { stat: string }) => s.stat === 'p95').points.map((p: number[]) => p[1]);
      // 100 observations a minute: 10 up to 10 ms, 60 to 50, 20 to 100, 10 to 500; the 95th falls halfway into (100, 500].
      expect(p95).toEqual(Array(10).fill(300));
      await page.screenshot({ path: join(ARTIFACTS, 'metrics-histogram.png'), fullPage: true });
    });

    it('zooms by dragging across the chart, and Back undoes it', async () => {
      await page.goto(`${base}/metrics?range=1h&name=queue.depth`);
      await drawn();
      const box = await page.locator('#chart .u-over').boundingBox();
      const from = Number(await page.getAttribute('#chart', 'data-from'));
      const to = Number(await page.getAttribute('#chart', 'data-to'));
      if (!box) throw new Error('no chart');
      const x = (ms: number) => box.x + ((ms - from) / (to - from)) * box.width;
      await page.mouse.move(x(now - 7.5 * 60_000), box.y + box.height / 2);
      await page.mouse.down();
      await page.mouse.move(x(now - 2.5 * 60_000), box.y + box.height / 2, { steps: 8 });
      await page.mouse.up();
      await page.waitForURL(/from=/);
      await drawn();
      expect(query().has('range')).toBe(false);
      expect(Number(query().get('from'))).toBeGreaterThan(now - 8 * 60_000);
      expect(Number(query().get('to'))).toBeLessThan(now - 2 * 60_000);
      // The points 7 to 3 minutes back are left (means 8 … 12 of the two queues); the legend shows the latest.
      expect(await legend()).toEqual([['queue.depth', '12 {job}']]);
      expect(await page.inputValue('#from')).not.toBe('');
      await page.goBack();
      await drawn();
      expect(query().get('range')).toBe('1h');
      expect(await legend()).toEqual([['queue.depth', '14 {job}']]);
    });

    it('keeps metric, split and range in the URL: reload and Back', async () => {
      await page.goto(`${base}/metrics?range=15m&name=queue.depth&by=queue`);
      await drawn();
      expect(await page.inputValue('#f-by')).toBe('queue');
      expect(await legend()).toEqual([['queue=emails', '9 {job}'], ['queue=sms', '19 {job}']]);
      await page.click('[data-metric="http.duration"]');
      await page.waitForURL((url) => url.searchParams.get('name') === 'http.duration');
      await drawn();
      expect(query().get('by')).toBeNull();
      await page.goBack();
      await page.waitForURL((url) => url.searchParams.get('name') === 'queue.depth');
      await drawn();
      expect(await page.inputValue('#f-by')).toBe('queue');
      await page.reload();
      await drawn();
      expect(await legend()).toEqual([['queue=emails', '9 {job}'], ['queue=sms', '19 {job}']]);
    });
  });

  it('the overview links to /logs and /metrics with its range and project, and to the error logs', async () => {
    await page.goto(`${base}/?range=24h`);
    await page.waitForSelector('body[data-loaded="24h|"]');
    expect(await page.getAttribute('#nav-logs', 'href')).toBe('/logs?range=24h');
    expect(await page.getAttribute('#nav-metrics', 'href')).toBe('/metrics?range=24h');
    await page.click('[data-testid="error-logs"]');
    await page.waitForURL((url) => url.pathname === '/logs' && url.searchParams.get('severity') === 'error');
    await drawn();
    expect(query().get('range')).toBe('24h');
    expect(await bodies()).toEqual([TRACE_LOG, 'payment declined']);
  });

  it('fits a 420 px wide screen', async () => {
    const narrow = await context.newPage();
    watch(narrow);
    await narrow.setViewportSize({ width: 420, height: 900 });
    for (const [path, name] of [['/logs', 'logs-420.png'], ['/metrics?name=http.requests&by=route', 'metrics-420.png']] as const) {
      await narrow.goto(`${base}${path}`);
      await drawn(narrow);
      const width = await narrow.evaluate(() => (globalThis as unknown as Doc).document.documentElement.scrollWidth);
      expect(width, path).toBeLessThanOrEqual(420);
      await narrow.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
    }
    await narrow.goto(`${base}/logs`);
    await drawn(narrow);
    // Each record keeps its time, severity and body in view, the body at least 150 px wide.
    type Box = { getBoundingClientRect(): { left: number; right: number; width: number } };
    const boxes = await narrow.$$eval('[data-testid="log"]', (rows) =>
      rows.map((r) => ['.muted', '.severity', '.body'].map((s) => (r.querySelector(s) as unknown as Box).getBoundingClientRect()).map((b) => [Math.round(b.right), Math.round(b.width)])),
    );
    expect(boxes.length).toBeGreaterThanOrEqual(5);
    for (const row of boxes) {
      expect(row.every(([right, width]) => (right as number) <= 420 && (width as number) > 0), JSON.stringify(row)).toBe(true);
      expect(row[2]?.[1]).toBeGreaterThanOrEqual(150);
    }
    await narrow.close();
  });

  it('logged no console errors', () => {
    expect(consoleErrors).toEqual([]);
  });

  it('leaves pictures for the README', async () => {
    if (process.env.UPDATE_DOCS !== '1') return;
    for (const name of ['logs.png', 'metrics.png']) await copyFile(join(ARTIFACTS, name), join(DOCS, name));
  });
});
