// Nothing lost on exit: an app tracks events and ends by SIGTERM, SIGINT (with and without its own handler),
// process.exit(0), an uncaught exception or kill -9 (with a spool); the next run of the same project on the machine
// sends what was left, and the store holds exactly the events tracked, once. Real engine, real processes.

import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/ports.js';
import { makeAppFolder, type AppFolder } from './helpers/sdk-app.js';
import { startStack, type RunningStack } from './helpers/stack.js';

let stack: RunningStack;
let app: AppFolder;
let blackhole: { url: string; connections: number; close(): Promise<void> };

/** Accepts connections and never answers: a store that hangs. */
async function startBlackhole(): Promise<typeof blackhole> {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => {
    sockets.push(s);
    result.connections++;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const result = {
    url: `http://127.0.0.1:${port}`,
    connections: 0,
    close: () => new Promise<void>((r) => {
      sockets.forEach((s) => s.destroy());
      server.close(() => r());
    }),
  };
  return result;
}

beforeAll(async () => {
  stack = await startStack();
  app = await makeAppFolder();
  blackhole = await startBlackhole();
});
afterAll(async () => {
  await blackhole?.close();
  await app?.cleanup();
  await stack?.stop();
});

/** The stack's endpoints and credential, as `eval "$(automagik-telemetry env)"` gives them. */
const storeEnv = (): NodeJS.ProcessEnv => ({ ...stack.vars });

async function stored(project: string): Promise<{ n: number; distinct: number }> {
  const [row] = await stack.rows<{ n: number; distinct: number }>(
    `SELECT count() AS n, uniqExact(span_name, attributes['i']) AS distinct FROM telemetry.traces WHERE project_name = {p:String}`,
    { p: project },
  );
  return { n: Number(row?.n ?? 0), distinct: Number(row?.distinct ?? 0) };
}

/** The first run: tracks `count` events named run1, registers the exit handlers, then does `ending`. */
function firstRun(project: string, backend: string, count: number, ending: string, options = ''): string {
  return `
    import { AutomagikTelemetry } from 'automagik-telemetry';
    const t = new AutomagikTelemetry({ projectName: ${JSON.stringify(project)}, backend: ${JSON.stringify(backend)}, flushIntervalMs: 60000, maxRetries: 0, timeoutMs: 20000 ${options} });
    t.registerExitHandlers({ deadlineMs: 400 });
    for (let i = 0; i < ${count}; i++) t.trackEvent('run1', { i });
    ${ending}
  `;
}

/** The next run of the same project: tracks its own events and shuts down; sends what the spool holds on the way. */
const nextRun = (project: string, backend: string, count: number, options = '') => `
  import { AutomagikTelemetry } from 'automagik-telemetry';
  const t = new AutomagikTelemetry({ projectName: ${JSON.stringify(project)}, backend: ${JSON.stringify(backend)} ${options} });
  for (let i = 0; i < ${count}; i++) t.trackEvent('run2', { i });
  const r = await t.shutdown();
  console.log(JSON.stringify({ ...r, stats: t.stats() }));
`;

const KEEP_ALIVE = `console.log('ready'); setInterval(() => {}, 1000);`;

async function spoolFiles(project: string): Promise<string[]> {
  return readdir(join(app.home, '.automagik', 'spool', project)).catch(() => []);
}

describe.each(['otlp', 'clickhouse'])('an app with registerExitHandlers(), sending through %s', (backend) => {
  it('delivers on SIGTERM when the store answers in time, then ends by SIGTERM as it would have', async () => {
    const project = `sigterm-up-${backend}`;
    const running = await app.start(firstRun(project, backend, 7, KEEP_ALIVE), storeEnv());
    await running.waitFor('ready');
    running.child.kill('SIGTERM');
    const result = await running.done;
    expect(result).toMatchObject({ code: null, signal: 'SIGTERM' });
    expect(await stored(project)).toEqual({ n: 7, distinct: 7 });
  });

  it('spools on SIGTERM when the store does not answer within the deadline; the next run sends it, once', async () => {
    const project = `sigterm-hang-${backend}`;
    const hanging = backend === 'otlp' ? { AUTOMAGIK_TELEMETRY_ENDPOINT: `${blackhole.url}/v1/traces` } : { AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT: blackhole.url };
    const running = await app.start(firstRun(project, backend, 5, KEEP_ALIVE), { ...storeEnv(), ...hanging });
    await running.waitFor('ready');
    const killedAt = Date.now();
    running.child.kill('SIGTERM');
    const result = await running.done;
    expect(result.signal).toBe('SIGTERM');
    expect(Date.now() - killedAt).toBeLessThan(3_000);
    expect(await stored(project)).toEqual({ n: 0, distinct: 0 });
    const next = JSON.parse((await app.run(nextRun(project, backend, 3), storeEnv())).stdout) as { sent: number };
    expect(next.sent).toBe(8);
    expect(await stored(project)).toEqual({ n: 8, distinct: 8 });
  });

  it('on SIGINT with a handler of its own, lets the host end the process (exit 0) and loses nothing', async () => {
    const project = `sigint-host-${backend}`;
    const ending = `process.on('SIGINT', () => { console.log('host cleanup'); setTimeout(() => process.exit(0), 5); }); ${KEEP_ALIVE}`;
    const running = await app.start(firstRun(project, backend, 6, ending), storeEnv());
    await running.waitFor('ready');
    running.child.kill('SIGINT');
    const result = await running.done;
    expect(result).toMatchObject({ code: 0, signal: null });
    expect(result.stdout).toContain('host cleanup');
    await app.run(nextRun(project, backend, 2), storeEnv());
    expect(await stored(project)).toEqual({ n: 8, distinct: 8 });
  });

  it('spools on process.exit(0); the next run sends it, once', async () => {
    const project = `exit0-${backend}`;
    const result = await app.run(firstRun(project, backend, 4, 'process.exit(0);'), storeEnv());
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(await stored(project)).toEqual({ n: 0, distinct: 0 });
    expect((await spoolFiles(project)).filter((f) => f.endsWith('.4.batch'))).toHaveLength(1);
    await app.run(nextRun(project, backend, 3), storeEnv());
    expect(await stored(project)).toEqual({ n: 7, distinct: 7 });
  });

  it('spools on an uncaught exception (the process still crashes as it would have); the next run sends it, once', async () => {
    const project = `uncaught-${backend}`;
    const result = await app.run(firstRun(project, backend, 5, `setTimeout(() => { throw new Error('boom'); }, 0);`), storeEnv());
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Error: boom');
    await app.run(nextRun(project, backend, 1), storeEnv());
    expect(await stored(project)).toEqual({ n: 6, distinct: 6 });
  });

  it('stores a batch once when it was in flight at exit: the store had it, the next run sends the same batch again', async () => {
    const project = `inflight-${backend}`;
    // Forwards each request to the store, waits for the store's answer, and never passes it on.
    const target = backend === 'otlp' ? stack.vars.AUTOMAGIK_TELEMETRY_ENDPOINT ?? '' : stack.vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT ?? '';
    let forwarded = 0;
    const swallow: HttpServer = createHttpServer(async (req) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
      const url = backend === 'otlp' ? target : `${target}${req.url}`;
      await (await fetch(url, { method: 'POST', headers, body: Buffer.concat(chunks) })).arrayBuffer();
      forwarded++;
    });
    const port = await freePort();
    await new Promise<void>((r) => swallow.listen(port, '127.0.0.1', r));
    try {
      const via = backend === 'otlp' ? { AUTOMAGIK_TELEMETRY_ENDPOINT: `http://127.0.0.1:${port}/v1/traces` } : { AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT: `http://127.0.0.1:${port}` };
      const ending = `void t.flush(); setTimeout(() => process.exit(0), 1500);`;
      const result = await app.run(firstRun(project, backend, 5, ending), { ...storeEnv(), ...via });
      expect(result.code).toBe(0);
      expect(forwarded).toBe(1);
      expect(await stored(project)).toEqual({ n: 5, distinct: 5 });
      const next = JSON.parse((await app.run(nextRun(project, backend, 2), storeEnv())).stdout) as { sent: number };
      expect(next.sent).toBe(7); // the store took the re-sent batch, and deduplicated it
      expect(await stored(project)).toEqual({ n: 7, distinct: 7 });
    } finally {
      swallow.closeAllConnections();
      await new Promise<void>((r) => swallow.close(() => r()));
    }
  });
});

describe('an app with two clients, each with exit handlers', () => {
  it('on SIGTERM flushes both, then still ends by SIGTERM', async () => {
    const running = await app.start(
      `import { AutomagikTelemetry } from 'automagik-telemetry';
       const a = new AutomagikTelemetry({ projectName: 'two-clients-a', flushIntervalMs: 60000 });
       const b = new AutomagikTelemetry({ projectName: 'two-clients-b', backend: 'clickhouse', flushIntervalMs: 60000 });
       a.registerExitHandlers(); b.registerExitHandlers();
       for (let i = 0; i < 3; i++) { a.trackEvent('a', { i }); b.trackEvent('b', { i }); }
       ${KEEP_ALIVE}`,
      storeEnv(),
    );
    await running.waitFor('ready');
    running.child.kill('SIGTERM');
    expect(await running.done).toMatchObject({ code: null, signal: 'SIGTERM' });
    expect(await stored('two-clients-a')).toEqual({ n: 3, distinct: 3 });
    expect(await stored('two-clients-b')).toEqual({ n: 3, distinct: 3 });
  });
});

describe('an app with a durable spool (spoolDir)', () => {
  it('keeps its batches across kill -9 while the store is down; the next run sends them, once', async () => {
    const project = 'kill9-spool';
    const spoolDir = join(app.dir, 'durable-spool');
    const down = `http://127.0.0.1:${await freePort()}`;
    const ending = `await t.flush(); ${KEEP_ALIVE}`;
    const running = await app.start(firstRun(project, 'clickhouse', 250, ending, `, spoolDir: ${JSON.stringify(spoolDir)}, batchSize: 100`), { ...storeEnv(), AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT: down });
    await running.waitFor('ready');
    running.child.kill('SIGKILL');
    expect((await running.done).signal).toBe('SIGKILL');
    expect((await readdir(spoolDir)).filter((f) => f.includes('.batch'))).toHaveLength(3);
    const next = await app.run(nextRun(project, 'clickhouse', 10, `, spoolDir: ${JSON.stringify(spoolDir)}`), storeEnv());
    expect(JSON.parse(next.stdout)).toMatchObject({ sent: 260, pending: 0 });
    expect(await stored(project)).toEqual({ n: 260, distinct: 260 });
    expect(await readdir(spoolDir)).toEqual([]);
  });

  it('holds at most spoolMaxBytes while the store is down, dropping the oldest batches and counting them', async () => {
    const spoolDir = join(app.dir, 'bounded-spool');
    const down = `http://127.0.0.1:${await freePort()}`;
    const result = await app.run(
      `
      import { AutomagikTelemetry } from 'automagik-telemetry';
      const t = new AutomagikTelemetry({ projectName: 'bounded', backend: 'clickhouse', spoolDir: ${JSON.stringify(spoolDir)}, spoolMaxBytes: 40000, batchSize: 50, maxRetries: 0 });
      for (let i = 0; i < 1000; i++) t.trackEvent('x', { i, pad: 'y'.repeat(40) });
      await t.flush();
      await t.flush();
      console.log(JSON.stringify(t.stats()));
      `,
      { ...storeEnv(), AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT: down },
    );
    const stats = JSON.parse(result.stdout) as { dropped: number; queued: number; sent: number };
    expect(stats.sent).toBe(0);
    expect(stats.dropped).toBeGreaterThan(0);
    expect(stats.dropped + stats.queued).toBe(1000);
    const files = await readdir(spoolDir);
    expect(files.length).toBeGreaterThan(0);
  });
});

describe('an app without exit handlers', () => {
  it('under DEBUG=automagik:* reports the events left unsent at exit', async () => {
    const result = await app.run(
      `import { AutomagikTelemetry } from 'automagik-telemetry';
       const t = new AutomagikTelemetry({ projectName: 'forgot-flush', flushIntervalMs: 60000 });
       t.trackEvent('a'); t.trackEvent('b'); t.trackEvent('c');`,
      { ...storeEnv(), DEBUG: 'automagik:*' },
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^automagik:sdk 3 event\(s\) left unsent at exit: call flush\(\) or shutdown\(\) before exiting, or registerExitHandlers\(\)$/m);
  });
});
