import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../src/clickhouse/http-client.js';
import { EmbeddedDatabase } from '../src/engine/embedded/database.js';
import { templatePath } from '../src/paths.js';
import { applySchema } from '../src/schema/index.js';
import { cli } from './helpers/cli.js';
import { configFor, makeTestHome, type TestHome } from './helpers/home.js';
import { recent } from './helpers/time.js';

let home: TestHome;
let before: { spans: string; rollup: string };

const SPANS = 'SELECT trace_id, span_id, timestamp, span_name, duration_ms, status_code, attributes FROM telemetry.traces ORDER BY span_id FORMAT JSONEachRow';
const ROLLUP = "SELECT toUInt32(total_count) AS total, toUInt32(error_count) AS errors, p50_duration_ms FROM telemetry.metrics_hourly WHERE project_name = 'legacy' FORMAT JSONEachRow";

beforeAll(async () => {
  home = await makeTestHome();
  const config = await configFor(home);
  // A store exactly as version 1 left it: init-db.sql alone, no migrations, with spans in it.
  const v1 = join(home.home, 'templates-v1');
  await mkdir(v1);
  await copyFile(templatePath('init-db.sql'), join(v1, 'init-db.sql'));
  const db = await EmbeddedDatabase.open(config.paths.dataDir);
  expect(await applySchema(db, 'telemetry', v1)).toEqual({ version: 1, applied: [1] });
  await db.run(
    'INSERT INTO telemetry.traces (trace_id, span_id, timestamp, project_name, span_name, duration_ms, status_code, attributes) VALUES ' +
      `('t1', 's1', '${recent(120_000)}', 'legacy', 'checkout', 42, 'OK', {'k': 'v'}), ('t1', 's2', '${recent(60_000)}', 'legacy', 'pay', 7, 'ERROR', {})`,
  );
  before = { spans: await db.run(SPANS), rollup: await db.run(ROLLUP) };
  await db.close();
});
afterAll(async () => {
  await cli(['stop'], home.env);
  await home.cleanup();
});

describe('a store written by version 1, started by this version', () => {
  it('is upgraded to the current schema version (4) on start, with every span and its rollup kept', async () => {
    const started = await cli(['start'], home.env);
    expect(started.code, started.stderr).toBe(0);
    const status = JSON.parse((await cli(['status', '--json'], home.env)).stdout) as { schemaVersion?: number };
    expect(status.schemaVersion).toBe(4);

    // Read back as the admin role (the app credential `env` prints only inserts).
    const vars = JSON.parse((await cli(['env', '--role', 'admin', '--json'], home.env)).stdout) as Record<string, string>;
    const connection = { url: vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT ?? '', username: 'telemetry', password: vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD, database: 'telemetry' };
    const lines = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(await queryRows(connection, SPANS.replace(' FORMAT JSONEachRow', ''))).toEqual(lines(before.spans));
    expect(await queryRows(connection, ROLLUP.replace(' FORMAT JSONEachRow', ''))).toEqual(lines(before.rollup));
    expect(await queryRows(connection, 'SELECT span_id, events.name, links.span_id FROM telemetry.traces ORDER BY span_id')).toEqual([
      { span_id: 's1', 'events.name': [], 'links.span_id': [] },
      { span_id: 's2', 'events.name': [], 'links.span_id': [] },
    ]);
    expect(await queryRows(connection, 'SELECT version FROM telemetry.schema_versions FINAL ORDER BY version')).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }]);

    // A second start of the upgraded store applies nothing and loses nothing.
    expect((await cli(['stop'], home.env)).code).toBe(0);
    expect((await cli(['start'], home.env)).code).toBe(0);
    expect(await queryRows(connection, 'SELECT toUInt32(count()) AS n FROM telemetry.traces')).toEqual([{ n: 2 }]);
  });
});
