import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedDatabase } from '../src/engine/embedded/database.js';
import { templatePath } from '../src/paths.js';
import { applySchema } from '../src/schema/index.js';
import { clusterStatements } from '../src/schema/cluster.js';

let dir: string;
let db: EmbeddedDatabase;

/** 20 granules of 8,192 spans, each span in a trace of its own: one trace's spans sit in one granule. */
const SPANS = 20 * 8192;
const traceId = (n: number) => n.toString(16).padStart(32, '0');

async function rows<T>(sql: string): Promise<T[]> {
  const out = await db.run(`${sql} FORMAT JSONEachRow`);
  return out.trim() === '' ? [] : out.trim().split('\n').map((l) => JSON.parse(l) as T);
}

/** The skip-index step of `EXPLAIN indexes = 1` for a query: its index name and granules kept / before. */
async function skipIndex(sql: string): Promise<{ name: string; kept: number; of: number } | undefined> {
  const plan = (await db.run(`EXPLAIN indexes = 1 ${sql} FORMAT TSVRaw`)).split('\n').map((l) => l.trim());
  const at = plan.indexOf('Skip');
  if (at < 0) return undefined;
  const name = plan.slice(at).find((l) => l.startsWith('Name:'))?.slice(5).trim() ?? '';
  const granules = /Granules: (\d+)\/(\d+)/.exec(plan.slice(at).find((l) => l.startsWith('Granules:')) ?? '');
  return { name, kept: Number(granules?.[1]), of: Number(granules?.[2]) };
}

/** Inserts SPANS spans of one project over the last hour, in timestamp order, trace ids 0..SPANS-1. */
function fill(table: string, offset = 0): Promise<string> {
  return db.run(
    `INSERT INTO ${table} (trace_id, span_id, timestamp, service_name, span_name, project_name, attributes)
     SELECT leftPad(lower(hex(number + ${offset})), 32, '0'), leftPad(lower(hex(number)), 16, '0'),
            now64(3) - INTERVAL 3600 SECOND + toIntervalMillisecond(number * 20), 'shop', 'work', 'shop', map()
     FROM numbers(${SPANS})`,
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'amt-trace-index-'));
  db = await EmbeddedDatabase.open(join(dir, 'data'));
});
afterAll(async () => {
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the trace_id and inserted_at skip indexes (schema versions 3 and 4)', () => {
  it('a store at version 2 with spans gets the index on start, built for the spans already stored', async () => {
    // The store as version 2 left it: init-db.sql and 002 only, and spans written under it.
    const v2 = join(dir, 'templates-v2');
    await mkdir(join(v2, 'migrations'), { recursive: true });
    await copyFile(templatePath('init-db.sql'), join(v2, 'init-db.sql'));
    await copyFile(templatePath('migrations', '002-signals.sql'), join(v2, 'migrations', '002-signals.sql'));
    expect(await applySchema(db, 'telemetry', v2)).toEqual({ version: 2, applied: [1, 2] });
    await fill('telemetry.traces');
    const one = `SELECT span_id FROM telemetry.traces WHERE trace_id = '${traceId(12_345)}'`;
    expect(await skipIndex(one)).toBeUndefined();

    expect(await applySchema(db, 'telemetry')).toEqual({ version: 4, applied: [3, 4] });
    // Existing parts get the index by a mutation, which runs in the background.
    for (let i = 0; i < 100; i++) {
      const [pending] = await rows<{ n: number }>("SELECT toUInt32(count()) AS n FROM system.mutations WHERE database = 'telemetry' AND table = 'traces' AND NOT is_done");
      if (pending?.n === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const used = await skipIndex(one);
    expect(used).toMatchObject({ name: 'trace_id_index', kept: 1 });
    expect(used?.of).toBeGreaterThanOrEqual(20);
    expect(await rows(one)).toEqual([{ span_id: (12_345).toString(16).padStart(16, '0') }]);
    expect(await applySchema(db, 'telemetry')).toEqual({ version: 4, applied: [] });
  });

  it('new spans are indexed as they are written: one trace reads 1 granule of the store, and its logs the same', async () => {
    await fill('telemetry.traces', SPANS);
    const one = `SELECT span_id FROM telemetry.traces WHERE trace_id = '${traceId(SPANS + 777)}'`;
    const used = await skipIndex(one);
    expect(used).toMatchObject({ name: 'trace_id_index', kept: 1 });
    expect(used?.of).toBeGreaterThanOrEqual(40);
    expect(await rows(one)).toEqual([{ span_id: (777).toString(16).padStart(16, '0') }]);

    await db.run(
      `INSERT INTO telemetry.logs (timestamp, observed_timestamp, trace_id, body, service_name, project_name, attributes)
       SELECT now64(3) - INTERVAL 3600 SECOND + toIntervalMillisecond(number * 20), now64(3), leftPad(lower(hex(number)), 32, '0'), 'line', 'shop', 'shop', map()
       FROM numbers(${SPANS})`,
    );
    const logs = `SELECT body FROM telemetry.logs WHERE trace_id = '${traceId(99)}'`;
    expect(await skipIndex(logs)).toMatchObject({ name: 'trace_id_index', kept: 1 });
    expect(await rows(logs)).toEqual([{ body: 'line' }]);
  });

  it('a tail reads only what arrived after its cursor: the inserted_at minmax index skips older granules', async () => {
    // The logs above arrived an hour ago (as far as inserted_at says); one more arrives now.
    await db.run('ALTER TABLE telemetry.logs UPDATE inserted_at = now64(3) - INTERVAL 3600 SECOND WHERE 1 SETTINGS mutations_sync = 1');
    await db.run("INSERT INTO telemetry.logs (timestamp, observed_timestamp, body, service_name, project_name, attributes) VALUES (now64(3), now64(3), 'new', 'shop', 'shop', map())");
    // One part holding old and new rows (as merges make): only the granule index can tell them apart.
    await db.run('OPTIMIZE TABLE telemetry.logs FINAL');
    expect(await rows("SELECT toUInt32(count()) AS n FROM system.parts WHERE database = 'telemetry' AND table = 'logs' AND active")).toEqual([{ n: 1 }]);
    const tail = "SELECT body FROM telemetry.logs WHERE inserted_at > now64(3) - INTERVAL 60 SECOND";
    const used = await skipIndex(tail);
    expect(used).toMatchObject({ name: 'inserted_at_index', kept: 1 });
    expect(used?.of).toBeGreaterThanOrEqual(21);
    expect(await rows(tail)).toEqual([{ body: 'new' }]);
  });

  it('the cluster DDL adds the index to the local tables only (a Distributed table has no indexes)', async () => {
    const ddl = await clusterStatements('telemetry_cluster', 'telemetry');
    const index = ddl.filter((s) => s.startsWith('ALTER') && /(trace_id|inserted_at)_index/.test(s));
    expect(index.length).toBe(9);
    expect(index.every((s) => /^ALTER TABLE telemetry\.(traces|logs|metrics)_local ON CLUSTER/.test(s))).toBe(true);
  });
});
