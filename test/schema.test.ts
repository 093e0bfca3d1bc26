import { mkdtemp, mkdir, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedDatabase } from '../src/engine/embedded/database.js';
import { templatePath } from '../src/paths.js';
import { loadConfig } from '../src/config/index.js';
import { applySchema, splitStatements } from '../src/schema/index.js';
import { roleStatements } from '../src/schema/roles.js';
import { recent } from './helpers/time.js';

let dir: string;
let db: EmbeddedDatabase;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'amt-schema-'));
  db = await EmbeddedDatabase.open(join(dir, 'data'));
});
afterAll(async () => {
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

async function rows<T>(sql: string): Promise<T[]> {
  const out = await db.run(`${sql} FORMAT JSONEachRow`);
  return out.trim() === '' ? [] : out.trim().split('\n').map((l) => JSON.parse(l) as T);
}

describe('the schema applied to a real engine', () => {
  it('applies once, records versions 1 to 4, and applies again as a no-op', async () => {
    expect(await applySchema(db, 'telemetry')).toEqual({ version: 4, applied: [1, 2, 3, 4] });
    expect(await applySchema(db, 'telemetry')).toEqual({ version: 4, applied: [] });
    expect(await rows<{ version: number }>('SELECT version FROM telemetry.schema_versions FINAL ORDER BY version')).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }]);
  });

  it('gives logs and metrics the documented columns, orderings and TTL, and traces events and links', async () => {
    const columns = async (table: string) =>
      Object.fromEntries(
        (await rows<{ name: string; type: string }>(`SELECT name, type FROM system.columns WHERE database = 'telemetry' AND table = '${table}' ORDER BY position`)).map((c) => [c.name, c.type]),
      );
    expect(await columns('logs')).toMatchObject({
      timestamp: "DateTime64(9, 'UTC')",
      observed_timestamp: "DateTime64(9, 'UTC')",
      trace_id: 'String',
      span_id: 'String',
      severity_text: 'LowCardinality(String)',
      severity_number: 'UInt8',
      body: 'String',
      service_name: 'LowCardinality(String)',
      project_name: 'LowCardinality(String)',
      attributes: 'Map(String, String)',
      scope_name: 'LowCardinality(String)',
    });
    expect(await columns('metrics')).toMatchObject({
      timestamp: "DateTime64(9, 'UTC')",
      metric_name: 'LowCardinality(String)',
      metric_type: 'LowCardinality(String)',
      value: 'Float64',
      count: 'UInt64',
      sum: 'Float64',
      min: 'Nullable(Float64)',
      max: 'Nullable(Float64)',
      bucket_counts: 'Array(UInt64)',
      explicit_bounds: 'Array(Float64)',
      quantiles: 'Array(Tuple(quantile Float64, value Float64))',
      is_monotonic: 'Bool',
      temporality: 'LowCardinality(String)',
      unit: 'LowCardinality(String)',
      attributes: 'Map(String, String)',
    });
    expect(await columns('traces')).toMatchObject({
      'events.timestamp': "Array(DateTime64(9, 'UTC'))",
      'events.name': 'Array(String)',
      'events.attributes': 'Array(Map(String, String))',
      'links.trace_id': 'Array(String)',
      'links.span_id': 'Array(String)',
      'links.attributes': 'Array(Map(String, String))',
    });
    const tables = await rows<{ name: string; sorting_key: string; engine_full: string }>(
      "SELECT name, sorting_key, engine_full FROM system.tables WHERE database = 'telemetry' AND name IN ('logs', 'metrics') ORDER BY name",
    );
    expect(tables.map((t) => [t.name, t.sorting_key])).toEqual([
      ['logs', 'service_name, timestamp'],
      ['metrics', 'project_name, metric_name, timestamp'],
    ]);
    for (const t of tables) expect(t.engine_full).toContain('TTL toDateTime(timestamp) + toIntervalDay(90)');
  });

  it('refuses a metric_type outside the five OTLP kinds', async () => {
    await expect(db.run(`INSERT INTO telemetry.metrics (timestamp, metric_name, metric_type, project_name) VALUES ('${recent()}', 'm', 'counter', 'p')`)).rejects.toThrow(/metric_type_known/);
  });

  it('rolls metric points up per hour: count, sum, min, max and the last value', async () => {
    const hour = Math.floor((Date.now() - 3_600_000) / 3_600_000) * 3_600_000;
    const at = (s: number) => new Date(hour + s * 1000).toISOString().replace('T', ' ').replace('Z', '');
    for (const [s, v] of [[10, 4], [20, 9], [5, 1], [30, 2]] as const) {
      await db.run(`INSERT INTO telemetry.metrics (timestamp, metric_name, metric_type, value, project_name) VALUES ('${at(s)}', 'queue.depth', 'gauge', ${v}, 'rollup')`);
    }
    expect(await rows("SELECT points, value_sum, value_min, value_max, value_last FROM telemetry.metric_points_hourly WHERE project_name = 'rollup'")).toEqual([
      { points: '4', value_sum: 16, value_min: 1, value_max: 9, value_last: 2 },
    ]);
  });

  it('gives traces the documented columns, a 90-day TTL, daily partitions and project/time ordering', async () => {
    const columns = await rows<{ name: string; type: string }>("SELECT name, type FROM system.columns WHERE database = 'telemetry' AND table = 'traces' ORDER BY position");
    expect(columns).toEqual(
      expect.arrayContaining([
        { name: 'trace_id', type: 'String' },
        { name: 'timestamp', type: "DateTime64(3, 'UTC')" },
        { name: 'status_code', type: 'LowCardinality(String)' },
        { name: 'duration_ms', type: 'UInt32' },
        { name: 'attributes', type: 'Map(String, String)' },
      ]),
    );
    const [table] = await rows<{ engine_full: string; sorting_key: string; partition_key: string }>(
      "SELECT engine_full, sorting_key, partition_key FROM system.tables WHERE database = 'telemetry' AND name = 'traces'",
    );
    expect(table?.engine_full).toContain('TTL toDateTime(timestamp) + toIntervalDay(90)');
    expect(table?.sorting_key).toBe('project_name, timestamp, span_name');
    expect(table?.partition_key).toBe('toYYYYMMDD(timestamp)');
  });

  it('drops rows older than the TTL when parts merge, and keeps recent ones', async () => {
    const old = new Date(Date.now() - 91 * 86_400_000).toISOString().replace('T', ' ').replace('Z', '');
    await db.run(`INSERT INTO telemetry.traces (trace_id, span_id, timestamp, project_name) VALUES ('t', 'old', '${old}', 'ttl'), ('t', 'new', '${recent()}', 'ttl')`);
    await db.run('OPTIMIZE TABLE telemetry.traces FINAL');
    expect(await rows("SELECT span_id FROM telemetry.traces WHERE project_name = 'ttl'")).toEqual([{ span_id: 'new' }]);
  });

  it('refuses a status_code other than OK or ERROR', async () => {
    await expect(db.run(`INSERT INTO telemetry.traces (trace_id, span_id, timestamp, project_name, status_code) VALUES ('t', 's', '${recent()}', 'bad', 'MAYBE')`)).rejects.toThrow(/status_code_known/);
  });

  it('keeps metrics_hourly percentiles equal to those of the raw rows across many separate inserts', async () => {
    const durations = Array.from({ length: 300 }, (_, i) => (i * 37) % 1000);
    const hour = new Date(Math.floor((Date.now() - 3_600_000) / 3_600_000) * 3_600_000);
    for (let batch = 0; batch < 10; batch++) {
      const values = durations
        .slice(batch * 30, batch * 30 + 30)
        .map((d, i) => `('t', 's${batch}-${i}', '${new Date(hour.getTime() + i * 1000).toISOString().replace('T', ' ').replace('Z', '')}', 'rollup', ${d}, '${d % 7 === 0 ? 'ERROR' : 'OK'}')`)
        .join(', ');
      await db.run(`INSERT INTO telemetry.traces (trace_id, span_id, timestamp, project_name, duration_ms, status_code) VALUES ${values}`);
    }
    const [raw] = await rows<{ total: string; errors: string; q: number[] }>(
      "SELECT count() AS total, countIf(status_code = 'ERROR') AS errors, quantiles(0.5, 0.95, 0.99)(duration_ms) AS q FROM telemetry.traces WHERE project_name = 'rollup'",
    );
    const [rollup] = await rows<Record<string, unknown>>("SELECT * EXCEPT q FROM telemetry.metrics_hourly WHERE project_name = 'rollup'");
    expect(raw?.total).toBe('300');
    expect(rollup).toEqual({
      hour: hour.toISOString().replace('T', ' ').replace('.000Z', ''),
      project_name: 'rollup',
      total_count: raw?.total,
      error_count: raw?.errors,
      p50_duration_ms: raw?.q[0],
      p95_duration_ms: raw?.q[1],
      p99_duration_ms: raw?.q[2],
    });
  });

  it('applies a newer migration once and records it', async () => {
    const templates = join(dir, 'templates');
    await mkdir(join(templates, 'migrations'), { recursive: true });
    await copyFile(templatePath('init-db.sql'), join(templates, 'init-db.sql'));
    await writeFile(join(templates, 'migrations', '900-add-host.sql'), '-- schema-version: 900\nALTER TABLE telemetry.traces ADD COLUMN IF NOT EXISTS host String DEFAULT \'\';\n');
    expect(await applySchema(db, 'telemetry', templates)).toEqual({ version: 900, applied: [900] });
    expect(await applySchema(db, 'telemetry', templates)).toEqual({ version: 900, applied: [] });
    expect(await rows("SELECT name FROM system.columns WHERE database = 'telemetry' AND table = 'traces' AND name = 'host'")).toEqual([{ name: 'host' }]);
  });

  it('splits statements on semicolons at line ends, ignoring comment lines', () => {
    expect(splitStatements('-- a; comment\nSELECT 1;\nSELECT \';\' ;\n\n-- end')).toEqual(['SELECT 1', "SELECT ';'"]);
  });
});

describe("the Docker stack's users and grants (templates/docker/roles.sql)", () => {
  it('renders every statement with the roles from the config, quoting passwords, and ClickHouse parses each', async () => {
    const home = await mkdtemp(join(tmpdir(), 'amt-roles-'));
    try {
      const config = await loadConfig({
        flags: { home },
        env: { AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD: "it's\\ingest", AUTOMAGIK_TELEMETRY_READER_PASSWORD: 'reader-pw', AUTOMAGIK_TELEMETRY_CLICKHOUSE_DATABASE: 'tele' },
      });
      const statements = await roleStatements(config);
      expect(statements.length).toBeGreaterThanOrEqual(10);
      for (const statement of statements) {
        expect(statement).not.toMatch(/\{\{/);
        const formatted = (await db.query('SELECT formatQuery({q:String})', { params: { q: statement }, format: 'RawBLOB' })).body;
        expect(Buffer.from(formatted).toString('utf8'), statement).not.toBe('');
      }
      const text = statements.join('\n');
      expect(text).toContain("CREATE USER IF NOT EXISTS telemetry_ingest IDENTIFIED WITH sha256_password BY 'it\\'s\\\\ingest' DEFAULT DATABASE tele");
      expect(text).toContain('GRANT INSERT ON tele.traces TO telemetry_ingest');
      expect(text).toContain('GRANT SELECT ON tele.* TO telemetry_reader');
      expect(text).not.toMatch(/GRANT (SELECT|ALL)[^;]*TO telemetry_ingest/);
      await expect(roleStatements(await loadConfig({ flags: { home }, env: { AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME: 'bad name' } }))).rejects.toThrow('not a valid ClickHouse name');
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
