import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthorization } from '../src/clickhouse/auth-header.js';
import { queryRows } from '../src/clickhouse/http-client.js';
import type { Config } from '../src/config/index.js';
import { IngestJournal } from '../src/engine/embedded/ingest/journal.js';
import { startEmbeddedServer, type RunningEmbeddedServer } from '../src/engine/embedded/server.js';
import { cli } from './helpers/cli.js';
import { configFor, makeTestHome, type TestHome } from './helpers/home.js';
import { startStack } from './helpers/stack.js';
import { recentNanos } from './helpers/time.js';

const COLUMNS = '(trace_id, span_id, span_name, service_name, project_name, timestamp)';

/** `count` JSONEachRow rows of one project, numbered from `from`. */
function rows(project: string, from: number, count: number): string {
  const ts = recentNanos().toString();
  return Array.from({ length: count }, (_, i) => JSON.stringify({ trace_id: `${project}-${from + i}`, span_id: 's', span_name: 'small', service_name: 'svc', project_name: project, timestamp: ts })).join('\n');
}

async function insert(base: string, auth: string, body: string, token?: string): Promise<{ status: number; text: string }> {
  const url = new URL(base);
  url.searchParams.set('query', `INSERT INTO telemetry.traces ${COLUMNS} FORMAT JSONEachRow`);
  if (token) url.searchParams.set('insert_deduplication_token', token);
  const res = await fetch(url, { method: 'POST', body, headers: { Authorization: auth } });
  return { status: res.status, text: await res.text() };
}

describe('many small writers at once, on one engine', () => {
  let home: TestHome;
  let config: Config;
  let server: RunningEmbeddedServer;
  let base: string;
  let auth: string;
  const count = async (project: string) =>
    (await queryRows<{ n: number; d: number }>({ url: base, username: 'telemetry', password: config.auth.roles.admin.password, database: 'telemetry' }, 'SELECT count() AS n, uniqExact(trace_id) AS d FROM traces WHERE project_name = {p:String}', { p: project }))[0];

  beforeAll(async () => {
    home = await makeTestHome();
    config = await configFor(home);
    server = await startEmbeddedServer(config);
    base = `http://127.0.0.1:${config.ports.clickhouse}`;
    auth = basicAuthorization(config.auth.roles.ingest as { username: string; password: string });
  });
  afterAll(async () => {
    await server?.close();
    await home?.cleanup();
  });

  it('stores every row of 8 clients sending 100-row inserts, acknowledging each only once stored, in far fewer inserts', async () => {
    const before = server.ingestCounters();
    const perClient = 25;
    await Promise.all(
      Array.from({ length: 8 }, async (_, c) => {
        for (let k = 0; k < perClient; k++) {
          const answer = await insert(base, auth, rows('eight', (c * perClient + k) * 100, 100));
          expect(answer.status, answer.text).toBe(200);
        }
      }),
    );
    expect(await count('eight')).toEqual({ n: 8 * perClient * 100, d: 8 * perClient * 100 });
    const after = server.ingestCounters();
    const requests = after.requests - before.requests;
    const batches = after.batches - before.batches;
    console.log(`8 clients: ${requests} requests written in ${batches} inserts`);
    expect(requests).toBe(8 * perClient);
    expect(batches).toBeLessThan(requests / 2);
  });

  it('stores a retried request once, whether the retry comes while the first copy is being written or later', async () => {
    const body = rows('retried', 0, 100);
    const answers = await Promise.all([insert(base, auth, body, 'retry-token-1'), insert(base, auth, body, 'retry-token-1'), insert(base, auth, rows('other', 0, 50))]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect((await insert(base, auth, body, 'retry-token-1')).status).toBe(200);
    // Without a token, an identical body is the same request (ClickHouse's own rule for identical blocks).
    expect((await insert(base, auth, body)).status).toBe(200);
    expect((await insert(base, auth, body)).status).toBe(200);
    expect(await count('retried')).toEqual({ n: 200, d: 100 });
  });

  it('fails only the request with bad rows when it shares a batch with good ones', async () => {
    const answers = await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => insert(base, auth, rows('mixed', i * 10, 10))),
      insert(base, auth, '{"trace_id": "broken", "timestamp": "not a time"}'),
    ]);
    expect(answers.slice(0, 6).map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(answers[6]?.status).toBe(400);
    expect(answers[6]?.text).toMatch(/^Code: \d+\. DB::Exception: /);
    expect(await count('mixed')).toEqual({ n: 60, d: 60 });
  });
});

describe('a bounded queue', () => {
  it('refuses what does not fit with 503 and Retry-After, and stores the rest', async () => {
    const home = await makeTestHome({ AUTOMAGIK_TELEMETRY_INSERT_QUEUE_MB: '0.01', AUTOMAGIK_TELEMETRY_INSERT_WAIT_MS: '50' });
    const config = await configFor(home);
    const server = await startEmbeddedServer(config);
    const base = `http://127.0.0.1:${config.ports.clickhouse}`;
    const auth = basicAuthorization(config.auth.roles.ingest as { username: string; password: string });
    try {
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => insert(base, auth, rows('bounded', i * 20, 20))));
      const refused = answers.filter((a) => a.status === 503);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused[0]?.text).toContain('TOO_MANY_SIMULTANEOUS_QUERIES');
      const stored = (await queryRows<{ n: number }>({ url: base, username: 'telemetry', password: config.auth.roles.admin.password }, "SELECT count() AS n FROM telemetry.traces WHERE project_name = 'bounded'"))[0]?.n;
      expect(stored).toBe(answers.filter((a) => a.status === 200).length * 20);
    } finally {
      await server.close();
      await home.cleanup();
    }
  });
});

describe('a crash between writing a batch down and acknowledging it', () => {
  it('stores the journalled batch on the next start, and a retry of any of its requests is not stored again', async () => {
    const home = await makeTestHome();
    const config = await configFor(home);
    // A first start creates the store; then a batch is left in the journal as a kill -9 would leave it.
    await (await startEmbeddedServer(config)).close();
    const journal = IngestJournal.open(join(config.paths.dataDir, 'ingest-journal'), 1000);
    const first = rows('journalled', 0, 30);
    const second = rows('journalled', 30, 20);
    const tokens = ['client-token-a', 'client-token-b'];
    journal.begin({
      batchId: createHash('sha256').update(tokens.join('\n')).digest('hex').slice(0, 40),
      tokens,
      request: { table: 'telemetry.traces', columns: ['trace_id', 'span_id', 'span_name', 'service_name', 'project_name', 'timestamp'], format: 'JSONEachRow', settings: {} },
      data: Buffer.from(`${first}\n${second}\n`),
    });
    const server = await startEmbeddedServer(config);
    const base = `http://127.0.0.1:${config.ports.clickhouse}`;
    const auth = basicAuthorization(config.auth.roles.ingest as { username: string; password: string });
    try {
      expect((await insert(base, auth, first, 'client-token-a')).status).toBe(200);
      expect((await insert(base, auth, second, 'client-token-b')).status).toBe(200);
      const [stored] = await queryRows<{ n: number; d: number }>(
        { url: base, username: 'telemetry', password: config.auth.roles.admin.password },
        "SELECT count() AS n, uniqExact(trace_id) AS d FROM telemetry.traces WHERE project_name = 'journalled'",
      );
      expect(stored).toEqual({ n: 50, d: 50 });
    } finally {
      await server.close();
      await home.cleanup();
    }
  });
});

describe('the engine killed with SIGKILL while 8 small writers send', () => {
  it('stores every request exactly once once each writer has retried what was not acknowledged', async () => {
    const stack = await startStack();
    const base = stack.vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT ?? '';
    const auth = stack.auth('ingest');
    try {
      const perWriter = 40;
      let killed = false;
      const writers = Array.from({ length: 8 }, async (_, w) => {
        for (let k = 0; k < perWriter; k++) {
          const body = rows('killed', (w * perWriter + k) * 100, 100);
          const token = `writer-${w}-request-${k}`;
          for (let attempt = 0; ; attempt++) {
            const answer = await insert(base, auth, body, token).catch(() => ({ status: 0, text: 'connection refused' }));
            if (answer.status === 200) break;
            expect(attempt, answer.text).toBeLessThan(400);
            await new Promise((r) => setTimeout(r, 50));
          }
          if (w === 0 && k === 10 && !killed) {
            killed = true;
            const { pid } = JSON.parse(await (await import('node:fs/promises')).readFile(join(stack.home.home, 'run', 'engine.json'), 'utf8')) as { pid: number };
            process.kill(pid, 'SIGKILL');
            const restarted = await cli(['start'], stack.home.env);
            expect(restarted.code, restarted.stderr).toBe(0);
          }
        }
      });
      await Promise.all(writers);
      expect(killed).toBe(true);
      const [stored] = await stack.rows<{ n: number; d: number }>("SELECT count() AS n, uniqExact(trace_id) AS d FROM traces WHERE project_name = 'killed'");
      expect(stored).toEqual({ n: 8 * perWriter * 100, d: 8 * perWriter * 100 });
    } finally {
      await stack.stop();
    }
  });
});
