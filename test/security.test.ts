import { createClient } from '@clickhouse/client';
import fc from 'fast-check';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../src/clickhouse/http-client.js';
import type { Config, Role } from '../src/config/index.js';
import { startEmbeddedServer, type RunningEmbeddedServer } from '../src/engine/embedded/server.js';
import { cli } from './helpers/cli.js';
import { configFor, makeTestHome, type TestHome } from './helpers/home.js';
import { startStack } from './helpers/stack.js';
import { recentNanos } from './helpers/time.js';
import { basicAuthorization } from '../src/clickhouse/auth-header.js';
import { ROLLUPS } from '../src/schema/rollups.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261126);
const ROLES: Role[] = ['ingest', 'reader', 'admin'];

let home: TestHome;
let config: Config;
let server: RunningEmbeddedServer;
let base: string;

beforeAll(async () => {
  home = await makeTestHome();
  config = await configFor(home);
  server = await startEmbeddedServer(config);
  base = `http://127.0.0.1:${config.ports.clickhouse}`;
  await sql('admin', `INSERT INTO telemetry.traces (trace_id, span_id, span_name, service_name, project_name, timestamp) VALUES ('t1', 's1', 'seed', 'svc', 'p', now64(9))`);
});

afterAll(async () => {
  await server?.close();
  await home?.cleanup();
});

interface Answer {
  status: number;
  code: number;
  text: string;
}

function authOf(role: Role): string {
  const { username, password } = config.auth.roles[role];
  return basicAuthorization({ username, password: password ?? '' });
}

/** One request to the ClickHouse HTTP port as `role`; the statement in the body, anything else in the URL. */
async function sql(role: Role, statement: string, query: Record<string, string> = {}, method: 'POST' | 'GET' = 'POST'): Promise<Answer> {
  const url = new URL(base);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  if (method === 'GET') url.searchParams.set('query', statement);
  const res = await fetch(url, { method, headers: { Authorization: authOf(role) }, ...(method === 'POST' ? { body: statement } : {}) });
  return { status: res.status, code: Number(res.headers.get('x-clickhouse-exception-code') ?? 0), text: await res.text() };
}

/** Row count and a content hash of every table of the store, read as admin. */
async function snapshot(): Promise<Record<string, string>> {
  const tables = await queryRows<{ name: string }>(adminConnection(), "SELECT name FROM system.tables WHERE database = 'telemetry' AND engine NOT LIKE '%View' ORDER BY name");
  const out: Record<string, string> = {};
  // The rollups' states and watermarks are rewritten by the engine itself as it rolls rows up: what readers see of
  // them (the rollup views' counts) must not change; how they are stored may.
  const keptByEngine = new Set(['rollup_watermarks', ...ROLLUPS.map((r) => r.state)]);
  for (const { name } of tables.filter((t) => !keptByEngine.has(t.name))) {
    const [row] = await queryRows<{ n: string; h: string }>(adminConnection(), `SELECT toString(count()) AS n, toString(groupBitXor(cityHash64(*))) AS h FROM telemetry.${name}`);
    out[name] = `${row?.n}:${row?.h}`;
  }
  for (const rollup of ROLLUPS) {
    const [row] = await queryRows<{ n: string }>(adminConnection(), `SELECT toString(sum(${rollup.countColumn})) AS n FROM telemetry.${rollup.name}`);
    out[rollup.name] = `${row?.n}`;
  }
  return out;
}

function adminConnection() {
  return { url: base, username: 'telemetry', password: config.auth.roles.admin.password, database: 'telemetry' };
}

describe('an attacker holding a credential (each role) is refused everything that reaches outside the store', () => {
  const outside = (homeDir: string, port: number) => [
    { what: 'reading a file', sql: "SELECT * FROM file('/etc/passwd', 'LineAsString')" },
    { what: "reading the stack's own .env", sql: `SELECT * FROM file('${homeDir}/.env', 'LineAsString')` },
    { what: 'the file() function', sql: "SELECT file('/etc/passwd')" },
    { what: 'fetching a URL', sql: `SELECT * FROM url('http://127.0.0.1:${port}/ping', 'LineAsString')` },
    { what: 'writing a file', sql: `INSERT INTO FUNCTION file('${homeDir}/pwned.tsv', 'TSV', 'a String') VALUES ('x')` },
    { what: 'INTO OUTFILE', sql: `SELECT 1 INTO OUTFILE '${homeDir}/out.tsv'` },
    { what: 'FROM INFILE', sql: "INSERT INTO telemetry.traces FROM INFILE '/etc/passwd' FORMAT LineAsString" },
    { what: 'another server', sql: "SELECT * FROM remote('127.0.0.1:9000', system.one)" },
    { what: 'running a process', sql: "SELECT * FROM executable('cat /etc/passwd', 'TSV', 'a String')" },
    { what: 'stopping the engine', sql: 'SYSTEM SHUTDOWN' },
    { what: 'killing queries', sql: 'KILL QUERY WHERE 1' },
    { what: 'detaching a table', sql: 'DETACH TABLE telemetry.traces' },
    { what: 'a backup to disk', sql: "BACKUP TABLE telemetry.traces TO File('/tmp/amt-backup')" },
    { what: 'creating a user', sql: 'CREATE USER intruder IDENTIFIED BY \'x\'' },
    { what: 'granting', sql: 'GRANT ALL ON *.* TO telemetry_ingest' },
    { what: 'a File table engine', sql: 'CREATE TABLE telemetry.evil (a String) ENGINE = File(TSV)' },
    { what: 'a URL table engine', sql: "CREATE TABLE telemetry.evil (a String) ENGINE = URL('http://127.0.0.1:1/', CSV)" },
    { what: 'a dictionary over a file', sql: "CREATE DICTIONARY telemetry.d (a UInt64) PRIMARY KEY a SOURCE(FILE(path '/etc/passwd' format 'TSV')) LAYOUT(FLAT()) LIFETIME(0)" },
    { what: "other clients' queries", sql: 'SELECT * FROM system.processes' },
    { what: 'another database', sql: 'CREATE TABLE default.x (a UInt8) ENGINE = Memory' },
    { what: 'dropping the database', sql: 'DROP DATABASE telemetry' },
    { what: 'a setting that lifts a limit', sql: 'SELECT 1 SETTINGS allow_introspection_functions = 1' },
  ];

  for (const role of ROLES) {
    it(`refuses each, plain and hidden after a harmless statement, as ${role}: ClickHouse codes, store untouched, engine up`, async () => {
      const before = await snapshot();
      for (const attack of outside(home.home, config.ports.clickhouse)) {
        for (const text of [attack.sql, `SELECT 1; ${attack.sql}`]) {
          const answer = await sql(role, text);
          expect(answer.status, `${role}: ${attack.what}: ${text}\n${answer.text}`).toBeGreaterThanOrEqual(400);
          expect(answer.status, `${role}: ${attack.what}`).toBeLessThan(500);
          expect([62, 164, 452, 497, 564], `${role}: ${attack.what}: ${answer.text}`).toContain(answer.code);
          expect(answer.text).toMatch(/^Code: \d+\. DB::Exception: /);
        }
      }
      expect(await snapshot()).toEqual(before);
      expect((await sql('admin', 'SELECT 1')).text).toBe('1\n');
      await expect(access(join(home.home, 'pwned.tsv'))).rejects.toThrow();
      await expect(access(join(home.home, 'out.tsv'))).rejects.toThrow();
    });
  }

  it('never shows a file even through a view or a subquery', async () => {
    for (const text of [
      "SELECT * FROM (SELECT * FROM file('/etc/passwd', 'LineAsString'))",
      "SELECT 1 WHERE 'root' IN (SELECT * FROM file('/etc/passwd', 'LineAsString'))",
      "CREATE VIEW telemetry.v AS SELECT * FROM file('/etc/passwd', 'LineAsString')",
      "WITH (SELECT file('/etc/passwd')) AS f SELECT f",
    ]) {
      const answer = await sql('admin', text);
      expect(answer.status, text).toBe(403);
      expect(answer.text).not.toContain('root:');
    }
  });

  it('answers a multi-statement body with the syntax error ClickHouse gives over HTTP, running none of it', async () => {
    const answer = await sql('admin', 'SELECT 1; SYSTEM SHUTDOWN');
    expect(answer).toMatchObject({ status: 400, code: 62 });
    expect(answer.text).toContain('Multi-statements are not allowed');
    expect((await sql('reader', 'SELECT 2')).text).toBe('2\n');
  });
});

describe('each role may do what it is for, and nothing more (HTTP and OTLP)', () => {
  const row = () => JSON.stringify({ trace_id: 'm1', span_id: `s${Math.random()}`, span_name: 'matrix', service_name: 'svc', timestamp: recentNanos().toString() });
  const matrix: Array<{ what: string; run: (role: Role) => Promise<Answer>; allowed: Role[] }> = [
    { what: 'SELECT 1', run: (r) => sql(r, 'SELECT 1'), allowed: ['ingest', 'reader', 'admin'] },
    {
      what: 'INSERT rows into traces',
      run: (r) => sql(r, `INSERT INTO telemetry.traces (trace_id, span_id, span_name, service_name, timestamp) FORMAT JSONEachRow\n${row()}`),
      allowed: ['ingest', 'admin'],
    },
    {
      what: 'INSERT … VALUES into traces',
      run: (r) => sql(r, "INSERT INTO telemetry.traces (trace_id, span_id, span_name) VALUES ('m2', 's', 'matrix')"),
      allowed: ['ingest', 'admin'],
    },
    { what: 'INSERT into the rollup state', run: (r) => sql(r, 'INSERT INTO telemetry.schema_versions (version, description) SELECT 99, \'x\' WHERE 0'), allowed: ['admin'] },
    { what: 'SELECT from traces', run: (r) => sql(r, 'SELECT count() FROM traces'), allowed: ['reader', 'admin'] },
    { what: 'SELECT over GET', run: (r) => sql(r, 'SELECT count() FROM telemetry.traces', {}, 'GET'), allowed: ['reader', 'admin'] },
    { what: 'a safe system table', run: (r) => sql(r, "SELECT name FROM system.tables WHERE database = 'telemetry'"), allowed: ['reader', 'admin'] },
    { what: 'numbers()', run: (r) => sql(r, 'SELECT sum(number) FROM numbers(10)'), allowed: ['reader', 'admin'] },
    { what: 'CREATE TABLE in telemetry', run: (r) => sql(r, 'CREATE TABLE IF NOT EXISTS telemetry.scratch (a UInt8) ENGINE = Memory'), allowed: ['admin'] },
    { what: 'DROP TABLE in telemetry', run: (r) => sql(r, 'DROP TABLE IF EXISTS telemetry.scratch_other'), allowed: ['admin'] },
    { what: 'ALTER TABLE in telemetry', run: (r) => sql(r, 'ALTER TABLE telemetry.traces MODIFY COMMENT \'spans\''), allowed: ['admin'] },
    {
      what: 'OTLP/HTTP traces',
      run: async (r) => {
        const res = await fetch(`http://127.0.0.1:${config.ports.otlp}/v1/traces`, {
          method: 'POST',
          headers: { Authorization: authOf(r), 'Content-Type': 'application/json' },
          body: JSON.stringify({ resourceSpans: [] }),
        });
        return { status: res.status, code: 0, text: await res.text() };
      },
      allowed: ['ingest', 'admin'],
    },
  ];

  for (const entry of matrix) {
    it(`${entry.what}: ${entry.allowed.join(', ')} only`, async () => {
      for (const role of ROLES) {
        const answer = await entry.run(role);
        if (entry.allowed.includes(role)) expect(answer.status, `${role} should be allowed: ${answer.text}`).toBe(200);
        else {
          expect(answer.status, `${role} should be refused: ${answer.text}`).toBe(403);
          if (answer.code !== 0) expect([164, 497]).toContain(answer.code);
        }
      }
    });
  }

  it('refuses the ingest role every setting but insert ones, and no role may lift readonly', async () => {
    expect((await sql('ingest', 'SELECT 1', { max_result_rows: '1' })).code).toBe(452);
    expect((await sql('ingest', 'SELECT 1', { input_format_skip_unknown_fields: '1' })).status).toBe(200);
    expect((await sql('reader', 'SELECT 1', { readonly: '0' })).code).toBe(164);
    const narrowed = await sql('admin', 'CREATE TABLE IF NOT EXISTS telemetry.scratch (a UInt8) ENGINE = Memory', { readonly: '1' });
    expect(narrowed).toMatchObject({ status: 403, code: 164 });
  });

  it('gives the official client with the app credential inserts only', async () => {
    const ingest = createClient({ url: base, username: 'telemetry_ingest', password: config.auth.roles.ingest.password, database: 'telemetry' });
    try {
      await ingest.insert({ table: 'traces', values: [{ trace_id: 'cl', span_id: 'c1', span_name: 'from-client', timestamp: recentNanos().toString() }], format: 'JSONEachRow' });
      await expect(ingest.query({ query: 'SELECT count() FROM traces' })).rejects.toMatchObject({ code: '497' });
      await expect(ingest.command({ query: 'DROP TABLE traces' })).rejects.toMatchObject({ code: '497' });
    } finally {
      await ingest.close();
    }
    const [row] = await queryRows<{ n: number }>(adminConnection(), "SELECT count() AS n FROM traces WHERE span_name = 'from-client'");
    expect(row?.n).toBe(1);
  });
});

describe('sessions keep their own settings and temporary tables; no request sees another', () => {
  it('applies SET only inside its session, while a plain client and another session keep the defaults', async () => {
    const a = { session_id: 'session-a' };
    expect((await sql('reader', "SET max_result_rows = 2, result_overflow_mode = 'throw'", a)).status).toBe(200);
    const [inA, plain, inB] = await Promise.all([
      sql('reader', 'SELECT number FROM numbers(5)', a),
      sql('reader', 'SELECT number FROM numbers(5)'),
      sql('reader', 'SELECT number FROM numbers(5)', { session_id: 'session-b' }),
    ]);
    expect(inA).toMatchObject({ code: 396 });
    expect(plain.text).toBe('0\n1\n2\n3\n4\n');
    expect(inB.text).toBe('0\n1\n2\n3\n4\n');
    expect((await sql('reader', "SELECT getSetting('max_result_rows')", a)).text).toBe('2\n');
    expect((await sql('admin', "SELECT getSetting('max_result_rows')", a)).text).toBe('0\n');
  });

  it('refuses SET without a session, saying how to send settings instead', async () => {
    const answer = await sql('reader', 'SET max_threads = 1');
    expect(answer).toMatchObject({ status: 400, code: 36 });
    expect(answer.text).toContain('session_id');
  });

  it('keeps temporary tables in their session: invisible to others, gone when the session expires', async () => {
    const mine = { session_id: 'tmp-owner', session_timeout: '2' };
    expect((await sql('reader', 'CREATE TEMPORARY TABLE scratchpad (x UInt8)', mine)).status).toBe(200);
    expect((await sql('reader', 'INSERT INTO scratchpad VALUES (7)', mine)).status).toBe(200);
    expect((await sql('reader', 'SELECT x FROM scratchpad', mine)).text).toBe('7\n');
    for (const other of [{}, { session_id: 'tmp-other' }] as Array<Record<string, string>>) {
      expect(await sql('reader', 'SELECT x FROM scratchpad', other)).toMatchObject({ status: 404, code: 60 });
      expect(await sql('admin', 'SELECT x FROM scratchpad', other)).toMatchObject({ status: 404, code: 60 });
    }
    expect((await sql('reader', 'CREATE TEMPORARY TABLE scratchpad (x UInt8)', { session_id: 'tmp-other' })).status).toBe(400);
    expect((await sql('reader', 'CREATE TEMPORARY TABLE loose (x UInt8)')).status).toBe(400);
    expect((await sql('admin', 'CREATE TEMPORARY TABLE traces (x UInt8)', { session_id: 'shadow' })).status).toBe(400);
    await new Promise((r) => setTimeout(r, 2_600));
    expect(await sql('reader', 'SELECT 1', { session_id: 'tmp-owner', session_check: '1' })).toMatchObject({ status: 404, code: 372 });
    expect((await sql('reader', 'CREATE TEMPORARY TABLE scratchpad (x UInt8)', { session_id: 'tmp-other' })).status).toBe(200);
  });

  it('gives another user naming the same session id a session of its own', async () => {
    await sql('admin', 'SET max_threads = 1', { session_id: 'shared-name' });
    expect((await sql('reader', "SELECT getSetting('max_threads') = 1", { session_id: 'shared-name' })).text).toBe('0\n');
    expect((await sql('admin', "SELECT getSetting('max_threads') = 1", { session_id: 'shared-name' })).text).toBe('1\n');
  });

  it('answers a second request in a busy session with SESSION_IS_LOCKED, and an invalid timeout with its code', async () => {
    const [slow, second] = await Promise.all([
      sql('reader', 'SELECT sleep(1)', { session_id: 'busy' }),
      new Promise<Answer>((resolve) => setTimeout(() => resolve(sql('reader', 'SELECT 1', { session_id: 'busy' })), 200)),
    ]);
    expect(slow.status).toBe(200);
    expect(second).toMatchObject({ status: 409, code: 373 });
    expect(await sql('reader', 'SELECT 1', { session_id: 'x', session_timeout: '999999' })).toMatchObject({ status: 400, code: 374 });
  });

  it('works with the official client in session mode', async () => {
    const client = createClient({ url: base, username: 'telemetry_reader', password: config.auth.roles.reader.password, session_id: 'official-client' });
    try {
      await client.command({ query: 'SET max_block_size = 1234' });
      const rows = await (await client.query({ query: "SELECT getSetting('max_block_size') AS v", format: 'JSONEachRow' })).json<{ v: string }>();
      expect(Number(rows[0]?.v)).toBe(1234);
    } finally {
      await client.close();
    }
  });
});

describe('query parameters round-trip exactly, with ClickHouse escaping', () => {
  it('binds any string, as @clickhouse/client sends it, and matches it in WHERE', async () => {
    const reader = createClient({ url: base, username: 'telemetry_reader', password: config.auth.roles.reader.password, database: 'telemetry' });
    const ingest = createClient({ url: base, username: 'telemetry_ingest', password: config.auth.roles.ingest.password, database: 'telemetry' });
    try {
      const fixed = ["o'brien", 'a\tb', 'back\\slash', 'new\nline', 'carriage\rreturn', '\\t literally', 'ünïcødé 🚀', "'; DROP TABLE traces; --", ''];
      const values = fc.sample(fc.string({ unit: 'binary', maxLength: 40 }), { seed: SEED, numRuns: 150 }).concat(fixed);
      for (const [i, value] of values.entries()) {
        const echoed = await (await reader.query({ query: 'SELECT {n:String} AS v', query_params: { n: value }, format: 'JSONEachRow' })).json<{ v: string }>();
        expect(echoed[0]?.v, JSON.stringify(value)).toBe(value);
        if (i % 5 === 0 || fixed.includes(value)) {
          const service = `svc-${i}-${value}`;
          await ingest.insert({ table: 'traces', values: [{ trace_id: `p${i}`, span_id: 's', span_name: 'param', service_name: service, timestamp: recentNanos().toString() }], format: 'JSONEachRow' });
          const found = await (await reader.query({ query: 'SELECT count() AS n FROM traces WHERE service_name = {s:String}', query_params: { s: service }, format: 'JSONEachRow' })).json<{ n: string }>();
          expect(Number(found[0]?.n), JSON.stringify(service)).toBe(1);
        }
      }
      // Our own client escapes the same way.
      for (const value of fixed) {
        const [row] = await queryRows<{ v: string }>({ ...adminConnection() }, 'SELECT {n:String} AS v', { n: value });
        expect(row?.v).toBe(value);
      }
    } finally {
      await reader.close();
      await ingest.close();
    }
  });
});

describe('health sees a damaged schema, and start repairs it', () => {
  it('fails naming a dropped table, and is healthy again after restart', async () => {
    const stack = await startStack();
    try {
      expect((await cli(['health'], stack.home.env)).code).toBe(0);
      await stack.rows('DROP TABLE telemetry.traces');
      const broken = await cli(['health'], stack.home.env);
      expect(broken.code).toBe(1);
      expect(broken.stdout + broken.stderr).toContain('missing from telemetry: traces');
      expect((await cli(['restart'], stack.home.env)).code).toBe(0);
      expect((await cli(['health'], stack.home.env)).code).toBe(0);
      // The app credential `env` prints could never have done it.
      const res = await fetch(`${stack.vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT}/`, { method: 'POST', body: 'DROP TABLE telemetry.traces', headers: { Authorization: stack.auth('ingest') } });
      expect(res.status).toBe(403);
      expect(await readFile(join(stack.home.home, '.env'), 'utf8')).toMatch(/^CLICKHOUSE_INGEST_PASSWORD=\S{16,}$/m);
    } finally {
      await stack.stop();
    }
  });
});
