import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config/index.js';
import { startEmbeddedServer, type RunningEmbeddedServer } from '../src/engine/embedded/server.js';
import { configFor, makeTestHome, type TestHome } from './helpers/home.js';
import { recent } from './helpers/time.js';
import { toolAvailable } from './helpers/tools.js';
import { basicAuthorization } from '../src/clickhouse/auth-header.js';

let home: TestHome;
let config: Config;
let server: RunningEmbeddedServer;
let client: ClickHouseClient;
let base: string;
let auth: string;

beforeAll(async () => {
  home = await makeTestHome();
  config = await configFor(home);
  server = await startEmbeddedServer(config);
  base = `http://127.0.0.1:${config.ports.clickhouse}`;
  auth = basicAuthorization({ username: 'telemetry', password: config.auth.roles.admin.password ?? '' });
  client = createClient({ url: base, username: 'telemetry', password: config.auth.roles.admin.password, database: 'telemetry' });
});

afterAll(async () => {
  await client?.close();
  await server?.close();
  await home?.cleanup();
});

function post(path: string, body: string | Buffer, headers: Record<string, string> = {}) {
  return fetch(`${base}${path}`, { method: 'POST', body, headers: { Authorization: auth, ...headers } });
}

describe('the embedded ClickHouse HTTP interface, spoken to the way curl does', () => {
  it('answers /ping without credentials', async () => {
    const res = await fetch(`${base}/ping`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('Ok.\n');
  });

  it('runs SELECT 1 from the URL with basic auth, as TabSeparated by default', async () => {
    const res = await fetch(`${base}/?query=SELECT+1`, { headers: { Authorization: auth } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('1\n');
    expect(res.headers.get('x-clickhouse-format')).toBe('TabSeparated');
  });

  it('accepts X-ClickHouse-User / X-ClickHouse-Key headers and default_format', async () => {
    const res = await fetch(`${base}/?default_format=JSONEachRow`, {
      method: 'POST',
      body: 'SELECT 41 + 1 AS answer',
      headers: { 'X-ClickHouse-User': 'telemetry', 'X-ClickHouse-Key': String(config.auth.roles.admin.password) },
    });
    expect(await res.text()).toBe('{"answer":42}\n');
  });

  it('rejects a wrong password with 403 and ClickHouse code 516, and no credentials with 401', async () => {
    const wrong = await fetch(`${base}/?query=SELECT+1`, { headers: { Authorization: basicAuthorization({ username: 'telemetry', password: 'nope' }) } });
    expect(wrong.status).toBe(403);
    expect(wrong.headers.get('x-clickhouse-exception-code')).toBe('516');
    expect(await wrong.text()).toMatch(/^Code: 516\. DB::Exception: telemetry: Authentication failed/);
    const none = await fetch(`${base}/?query=SELECT+1`);
    expect(none.status).toBe(401);
    expect(none.headers.get('x-clickhouse-exception-code')).toBe('194');
  });

  it('reports malformed SQL as ClickHouse does: 400, code 62, and stays up', async () => {
    const res = await post('/', 'SELEC 1');
    expect(res.status).toBe(400);
    expect(res.headers.get('x-clickhouse-exception-code')).toBe('62');
    expect(await res.text()).toMatch(/^Code: 62\. DB::Exception: Syntax error/);
    const after = await post('/', 'SELECT 2');
    expect(await after.text()).toBe('2\n');
  });

  it('answers 404 with code 60 for an unknown table', async () => {
    const res = await post('/', 'SELECT * FROM telemetry.nope');
    expect(res.status).toBe(404);
    expect(res.headers.get('x-clickhouse-exception-code')).toBe('60');
  });

  it('takes an INSERT in the URL with rows in a gzip body, and reads them back', async () => {
    const rows = [
      { trace_id: 't1', span_id: 's1', timestamp: recent(), service_name: 'svc', span_name: 'curl.insert', project_name: 'curl', duration_ms: 7, attributes: { k: 'v' } },
      { trace_id: 't1', span_id: 's2', timestamp: recent(), service_name: 'svc', span_name: 'curl.insert', project_name: 'curl', status_code: 'ERROR', duration_ms: 9, attributes: {} },
    ];
    const body = gzipSync(rows.map((r) => JSON.stringify(r)).join('\n'));
    const res = await post(`/?query=${encodeURIComponent('INSERT INTO telemetry.traces FORMAT JSONEachRow')}`, body, { 'Content-Encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.headers.get('x-clickhouse-summary') ?? '{}').written_rows).not.toBe('0');
    const back = await post('/?default_format=JSONEachRow', "SELECT span_id, status_code, duration_ms, attributes FROM telemetry.traces WHERE project_name = 'curl' ORDER BY span_id");
    expect((await back.text()).trim().split('\n').map((l) => JSON.parse(l))).toEqual([
      { span_id: 's1', status_code: 'OK', duration_ms: 7, attributes: { k: 'v' } },
      { span_id: 's2', status_code: 'ERROR', duration_ms: 9, attributes: {} },
    ]);
  });

  it('takes an INSERT whose rows follow the statement in the body', async () => {
    const res = await post('/', `INSERT INTO telemetry.traces (trace_id, span_id, timestamp, project_name) FORMAT JSONEachRow\n{"trace_id":"b","span_id":"b1","timestamp":"${recent()}","project_name":"inline"}\n`);
    expect(res.status).toBe(200);
    const count = await post('/', "SELECT count() FROM telemetry.traces WHERE project_name = 'inline'");
    expect(await count.text()).toBe('1\n');
  });

  it('rejects rows of the wrong type with 400 and keeps the rows stored before', async () => {
    const res = await post(`/?query=${encodeURIComponent('INSERT INTO telemetry.traces FORMAT JSONEachRow')}`, '{"trace_id":"x","duration_ms":"not a number"}\n');
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/^Code: \d+\. DB::Exception: /);
    const count = await post('/', "SELECT count() FROM telemetry.traces WHERE project_name = 'curl'");
    expect(await count.text()).toBe('2\n');
  });

  it('refuses a body that is not gzip although it says so, with 400', async () => {
    const res = await post('/', 'SELECT 1 definitely not gzip', { 'Content-Encoding': 'gzip' });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-clickhouse-exception-code')).toBe('271');
  });

  it('refuses writes over GET (read-only, as ClickHouse does)', async () => {
    const res = await fetch(`${base}/?query=${encodeURIComponent('CREATE TABLE telemetry.x (a UInt8) ENGINE = Memory')}`, { headers: { Authorization: auth } });
    expect(res.headers.get('x-clickhouse-exception-code')).toBe('164');
  });

  it('binds {name:Type} parameters from param_* and applies URL settings to that query only', async () => {
    const res = await post(`/?param_n=41&param_s=${encodeURIComponent("it's")}&max_threads=3`, "SELECT {n:UInt32} + 1, {s:String}, getSetting('max_threads')");
    expect(await res.text()).toBe("42\tit\\'s\t3\n");
    const after = await post('/', "SELECT getSetting('max_threads') = 3");
    expect(await after.text()).toBe('0\n');
  });

  it('gzips the response when enable_http_compression=1 and the client accepts gzip', async () => {
    const res = await fetch(`${base}/?enable_http_compression=1&query=SELECT+number+FROM+numbers(3)`, {
      headers: { Authorization: auth, 'Accept-Encoding': 'gzip' },
    });
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(await res.text()).toBe('0\n1\n2\n');
  });
});

describe('the official @clickhouse/client against the embedded engine', () => {
  it('pings, queries JSON and inserts JSONEachRow', async () => {
    expect((await client.ping()).success).toBe(true);
    await client.insert({
      table: 'traces',
      format: 'JSONEachRow',
      values: [{ trace_id: 'c1', span_id: 'c1', timestamp: recent(), project_name: 'client', span_name: 'from.client', duration_ms: 3 }],
    });
    const result = await client.query({
      query: 'SELECT span_name, duration_ms FROM traces WHERE project_name = {p:String}',
      query_params: { p: 'client' },
      format: 'JSONEachRow',
    });
    expect(await result.json()).toEqual([{ span_name: 'from.client', duration_ms: 3 }]);
  });

  it('deduplicates a retried insert carrying the same insert_deduplication_token', async () => {
    for (let i = 0; i < 2; i++) {
      await client.insert({
        table: 'traces',
        format: 'JSONEachRow',
        values: [{ trace_id: 'd1', span_id: 'd1', timestamp: recent(), project_name: 'dedup' }],
        clickhouse_settings: { insert_deduplication_token: 'batch-0001' },
      });
    }
    const result = await client.query({ query: "SELECT count() AS n FROM traces WHERE project_name = 'dedup'", format: 'JSONEachRow' });
    expect(await result.json()).toEqual([{ n: '1' }]);
  });

  it('surfaces server errors with their ClickHouse code', async () => {
    await expect(client.query({ query: 'SELECT * FROM no_such_table' })).rejects.toMatchObject({ code: '60', type: 'UNKNOWN_TABLE' });
  });

  it('is refused with a wrong password', async () => {
    const bad = createClient({ url: base, username: 'telemetry', password: 'wrong' });
    await expect(bad.query({ query: 'SELECT 1' })).rejects.toMatchObject({ code: '516' });
    await bad.close();
  });
});

describe.skipIf(!toolAvailable('curl', 'curl'))('curl itself against the embedded engine', () => {
  it('answers `curl -u telemetry:$PW "http://127.0.0.1:8123/?query=SELECT+1"` with 1', async () => {
    const { execFile } = await import('node:child_process');
    const ran = await new Promise<{ code: number | string; stdout: string; stderr: string }>((resolve) => {
      execFile('curl', ['-sS', '-u', `telemetry:${config.auth.roles.admin.password}`, `${base}/?query=SELECT+1`], (error, stdout, stderr) =>
        resolve({ code: error ? ((error as NodeJS.ErrnoException).code ?? 1) : 0, stdout, stderr }),
      );
    });
    if (ran.code === 'ENOENT') throw new Error('curl is not installed: apt-get install -y curl (.ci/run installs it)');
    expect(ran).toEqual({ code: 0, stdout: '1\n', stderr: '' });
  });
});
