import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthorization } from '../src/clickhouse/auth-header.js';
import type { Config } from '../src/config/index.js';
import { startEmbeddedServer, type RunningEmbeddedServer } from '../src/engine/embedded/server.js';
import { configFor, makeTestHome, type TestHome } from './helpers/home.js';
import { toolAvailable } from './helpers/tools.js';
import { createServer } from 'node:http';
import { sendStream } from '../src/engine/embedded/http/stream-response.js';

let home: TestHome;
let config: Config;
let server: RunningEmbeddedServer;
let client: ClickHouseClient;
let base: string;
let admin: string;

beforeAll(async () => {
  home = await makeTestHome();
  config = await configFor(home);
  server = await startEmbeddedServer(config);
  base = `http://127.0.0.1:${config.ports.clickhouse}`;
  admin = basicAuthorization({ username: 'telemetry', password: config.auth.roles.admin.password ?? '' });
  client = createClient({ url: base, username: 'telemetry', password: config.auth.roles.admin.password, database: 'telemetry', log: { level: ClickHouseLogLevel.OFF } });
});

afterAll(async () => {
  await client?.close();
  await server?.close(); // already closed by the last test; close() is idempotent
  await home?.cleanup();
});

function curl(args: string[]): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '-u', `telemetry:${config.auth.roles.admin.password}`, ...args], { encoding: 'buffer', maxBuffer: 256 << 20 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr: stderr.toString() }),
    );
  });
}

/** A GET whose body the test reads only when it wants to: the response stays paused until then. */
function openGet(sql: string, auth = admin): Promise<import('node:http').IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/?query=${encodeURIComponent(sql)}`, { headers: { Authorization: auth } }, (res) => {
      res.pause();
      resolve(res);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a large SELECT over the ClickHouse HTTP port goes out as it is produced', () => {
  it('sends 3,000,000 rows chunk by chunk (no Content-Length) and every row arrives, in order', async () => {
    const res = await openGet('SELECT number FROM numbers(3000000)');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBeUndefined();
    expect(res.headers['x-clickhouse-exception-tag']).toMatch(/^[0-9a-f]{16}$/);
    let lines = 0;
    let chunks = 0;
    let tail = '';
    for await (const chunk of res as AsyncIterable<Buffer>) {
      chunks++;
      const text = tail + chunk.toString('latin1');
      const parts = text.split('\n');
      tail = parts.pop() ?? '';
      if (lines === 0) expect(parts[0]).toBe('0');
      lines += parts.length;
      if (parts.length > 0) expect(Number(parts[parts.length - 1])).toBe(lines - 1);
    }
    expect(tail).toBe('');
    expect(lines).toBe(3_000_000);
    expect(chunks).toBeGreaterThan(10);
  });

  it('hands @clickhouse/client stream() JSONEachRow rows it can count and sum', async () => {
    const result = await client.query({ query: 'SELECT number AS n FROM numbers(1000000)', format: 'JSONEachRow' });
    let count = 0;
    let sum = 0;
    for await (const rows of result.stream<{ n: string }>()) {
      for (const row of rows) {
        count++;
        sum += Number(row.json().n);
      }
    }
    expect(count).toBe(1_000_000);
    expect(sum).toBe((999_999 * 1_000_000) / 2);
  });

  it('still answers whole-document formats whole: FORMAT JSON counts every row', async () => {
    const res = await fetch(`${base}/?query=${encodeURIComponent('SELECT number FROM numbers(300000) FORMAT JSON')}`, { headers: { Authorization: admin } });
    const json = (await res.json()) as { rows: number; data: unknown[] };
    expect(json.rows).toBe(300_000);
    expect(json.data).toHaveLength(300_000);
  });

  it('binds {name:Type} parameters on a streamed read', async () => {
    const result = await client.query({ query: 'SELECT number AS n FROM numbers({count:UInt32}) WHERE n % {mod:UInt8} = 0', format: 'JSONEachRow', query_params: { count: 100_000, mod: 7 } });
    let count = 0;
    for await (const rows of result.stream()) count += rows.length;
    expect(count).toBe(Math.ceil(100_000 / 7));
  });
});

describe('errors on a streamed read, as ClickHouse reports them', () => {
  it('a query failing before its first row still gets its HTTP status and X-ClickHouse-Exception-Code', async () => {
    const res = await fetch(`${base}/?query=${encodeURIComponent('SELECT * FROM telemetry.no_such_table')}`, { headers: { Authorization: admin } });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-clickhouse-exception-code')).toBe('60');
    expect(await res.text()).toMatch(/^Code: 60\. DB::Exception: .*no_such_table/);
  });

  it('the access gate refuses before any byte: the ingest role gets 403 and code 497, no rows', async () => {
    const ingest = basicAuthorization({ username: config.auth.roles.ingest.username, password: config.auth.roles.ingest.password ?? '' });
    const res = await fetch(`${base}/?query=${encodeURIComponent('SELECT number FROM numbers(1000000)')}`, { headers: { Authorization: ingest } });
    expect(res.status).not.toBe(200);
    expect(Number(res.headers.get('x-clickhouse-exception-code'))).toBeGreaterThan(0);
    expect(await res.text()).toMatch(/^Code: \d+\. DB::Exception: /);
  });

  it('a failure after rows went out ends the body with the tagged exception, and @clickhouse/client stream() throws it', async () => {
    const sql = 'SELECT throwIf(number = 2000000, \'boom at two million\') AS x FROM numbers(3000000)';
    const res = await openGet(sql);
    expect(res.statusCode).toBe(200);
    const tag = String(res.headers['x-clickhouse-exception-tag']);
    const chunks: Buffer[] = [];
    for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString('utf8');
    expect(body.length).toBeGreaterThan(1000);
    const end = `${tag}\r\n__exception__\r\n`;
    expect(body.endsWith(end)).toBe(true);
    expect(body).toContain(`\r\n__exception__\r\n${tag}\r\n`);
    expect(body).toMatch(/Code: 395\. DB::Exception: .*boom at two million/);
    const message = /\r\n__exception__\r\n[0-9a-f]+\r\n([\s\S]*)\n(\d+) [0-9a-f]+\r\n__exception__\r\n$/.exec(body);
    expect(Number(message?.[2])).toBe(Buffer.byteLength(message?.[1] ?? '') + 1);

    const result = await client.query({ query: sql, format: 'JSONEachRow' });
    let rows = 0;
    const read = (async () => {
      for await (const batch of result.stream()) rows += batch.length;
    })();
    await expect(read).rejects.toMatchObject({ code: '395' });
    expect(rows).toBeGreaterThan(0);
    expect(rows).toBeLessThan(3_000_000);
  });
});

describe('a streamed read runs with its own request\'s settings and database', () => {
  const get = async (query: string) => {
    const res = await fetch(`${base}/?${query}`, { headers: { Authorization: admin } });
    return { status: res.status, code: res.headers.get('x-clickhouse-exception-code'), streamed: res.headers.has('x-clickhouse-exception-tag'), text: await res.text() };
  };

  it('a setting in the URL applies to that read only, and the telemetry database is current', async () => {
    const one = await get(`max_threads=1&query=${encodeURIComponent("SELECT getSetting('max_threads'), currentDatabase() FROM numbers(2)")}`);
    expect(one).toMatchObject({ status: 200, streamed: true, text: '1\ttelemetry\n1\ttelemetry\n' });
    const next = await get(`query=${encodeURIComponent("SELECT getSetting('max_threads') FROM numbers(1)")}`);
    expect(next.streamed).toBe(true);
    expect(next.text).not.toBe('1\n');
  });

  it('a limit the read breaks before its first row answers with the error status and code, not 200', async () => {
    const over = await get(`max_result_rows=10&result_overflow_mode=throw&query=${encodeURIComponent('SELECT number FROM numbers(100000)')}`);
    expect(over.status).toBe(500);
    expect(over.code).toBe('396');
    expect(over.text).toMatch(/^Code: 396\. DB::Exception: /);
  });
});

describe('a slow reader holds nothing but its own stream', () => {
  it('while one result waits unread, inserts, queries and a second large SELECT are all answered; the stream then finishes', async () => {
    const slow = await openGet('SELECT number FROM numbers(5000000)');
    expect(slow.statusCode).toBe(200);

    const inserted = await fetch(`${base}/?query=${encodeURIComponent('INSERT INTO telemetry.logs (timestamp, service_name, project_name, body) FORMAT JSONEachRow')}`, {
      method: 'POST',
      headers: { Authorization: admin },
      body: `{"timestamp":"${new Date().toISOString().replace('T', ' ').replace('Z', '')}","service_name":"slow-reader","project_name":"stream","body":"written while a stream waits"}\n`,
    });
    expect(inserted.status).toBe(200);
    const count = await fetch(`${base}/?query=${encodeURIComponent("SELECT count() FROM telemetry.logs WHERE service_name = 'slow-reader'")}`, { headers: { Authorization: admin } });
    expect((await count.text()).trim()).toBe('1');
    const other = await fetch(`${base}/?query=${encodeURIComponent('SELECT number FROM numbers(200000)')}`, { headers: { Authorization: admin } });
    expect((await other.text()).split('\n')).toHaveLength(200_001);

    let lines = 0;
    for await (const chunk of slow as AsyncIterable<Buffer>) for (const byte of chunk) if (byte === 0x0a) lines++;
    expect(lines).toBe(5_000_000);
  });

  it('a client that hangs up mid-stream frees the stream for the next one', async () => {
    const first = await openGet('SELECT number FROM numbers(50000000)');
    first.resume();
    await new Promise((resolve) => first.once('data', resolve));
    first.destroy();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const next = await openGet('SELECT number FROM numbers(1000000)');
    expect(next.headers['x-clickhouse-exception-tag']).toBeDefined(); // streamed, not the buffered fallback
    let lines = 0;
    for await (const chunk of next as AsyncIterable<Buffer>) for (const byte of chunk) if (byte === 0x0a) lines++;
    expect(lines).toBe(1_000_000);
  });
});

describe('a reader that stops reading', () => {
  it('is dropped after the send timeout, and its query cancelled', { timeout: 20_000 }, async () => {
    let cancelled = false;
    let outcome: Awaited<ReturnType<typeof sendStream>> | undefined;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const endless = {
      first: chunk,
      rest: async function* () {
        for (;;) yield chunk;
      },
      cancel: () => {
        cancelled = true;
      },
      halted: new Promise<void>(() => undefined),
    };
    const server = createServer((_req, res) => {
      void sendStream(res, { 'Content-Type': 'text/plain' }, endless, false, 300).then((result) => (outcome = result));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const req = request(`http://127.0.0.1:${port}/`, (res) => res.pause());
    req.end();
    const began = Date.now();
    while (outcome === undefined && Date.now() - began < 10_000) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(outcome?.aborted).toBe(true);
    expect(outcome?.bytes).toBeGreaterThan(0);
    expect(cancelled).toBe(true);
    req.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
});

describe.skipIf(!toolAvailable('curl', 'curl'))('curl against a streamed result', () => {
  it('`curl "…/?query=SELECT number FROM numbers(2000000)"` prints every number', async () => {
    const ran = await curl([`${base}/?query=${encodeURIComponent('SELECT number FROM numbers(2000000)')}`]);
    expect(ran.stderr).toBe('');
    const lines = ran.stdout.toString('latin1').split('\n');
    expect(lines).toHaveLength(2_000_001);
    expect(lines[1_999_999]).toBe('1999999');
  });

  it('`curl --compressed …&enable_http_compression=1` gets a gzip stream that inflates to every row', async () => {
    const ran = await curl(['--compressed', '-D', '-', `${base}/?enable_http_compression=1&query=${encodeURIComponent('SELECT number FROM numbers(1000000)')}`]);
    const text = ran.stdout.toString('latin1');
    const split = text.indexOf('\r\n\r\n');
    expect(text.slice(0, split)).toMatch(/content-encoding: gzip/i);
    const lines = text.slice(split + 4).split('\n');
    expect(lines).toHaveLength(1_000_001);
    expect(lines[999_999]).toBe('999999');
  });

  it('curl shows a mid-stream failure as the exception text at the end of the output', async () => {
    const ran = await curl([`${base}/?query=${encodeURIComponent('SELECT throwIf(number = 1500000) FROM numbers(2000000)')}`]);
    const text = ran.stdout.toString('utf8');
    expect(text.startsWith('0\n0\n')).toBe(true);
    expect(text).toMatch(/__exception__\r\n[0-9a-f]{16}\r\nCode: 395\. DB::Exception: /);
  });
});

// Last: it stops the engine this file shares.
describe('stopping the engine while a result streams', () => {
  it('ends the body with QUERY_WAS_CANCELLED instead of holding the stop for as long as the query would run', { timeout: 30_000 }, async () => {
    const res = await openGet('SELECT number FROM numbers(10000000000)');
    expect(res.statusCode).toBe(200);
    const tag = String(res.headers['x-clickhouse-exception-tag']);
    let tail = '';
    let bytes = 0;
    const ended = new Promise<void>((resolve) => {
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        tail = (tail + chunk.toString('latin1')).slice(-600);
      });
      res.on('end', resolve);
      res.on('close', resolve);
    });
    res.resume();
    while (bytes < 1_000_000) await new Promise((resolve) => setTimeout(resolve, 20));
    await server.close();
    await ended;
    expect(tail).toContain(`\r\n__exception__\r\n${tag}\r\n`);
    expect(tail).toMatch(/Code: 394\. DB::Exception: the engine is stopping/);
    expect(tail.endsWith(`${tag}\r\n__exception__\r\n`)).toBe(true);
  });
});
