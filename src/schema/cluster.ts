// Owns the cluster schema: the single-node schema turned into replicated local tables, Distributed tables over them,
// and materialized views that roll up on each shard. Derived from templates/init-db.sql and templates/migrations/ so
// the two never drift.

import { DOTENV_CLUSTER_SECRET } from '../config/defaults.js';
import { TelemetryError } from '../errors.js';
import { templatePath } from '../paths.js';
import { loadSchema, loadSchemaFile } from './index.js';

/** The cluster templates/cluster/ defines in remote_servers. */
export const CLUSTER_NAME = 'telemetry_cluster';

/** How rows of each table spread over shards: a trace stays on one shard; the others do not care. */
const SHARDING_KEY: Record<string, string> = { traces: 'cityHash64(trace_id)' };

export async function clusterStatements(cluster: string, database: string): Promise<string[]> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(cluster)) throw new TelemetryError('E_CONFIG', `--cluster ${JSON.stringify(cluster)} is not a plain name (letters, digits, _)`);
  const single = (await loadSchema(database)).flatMap((file) => file.statements);
  const on = `ON CLUSTER ${cluster}`;
  const tables = new Set<string>();
  const out: string[] = [];
  for (const statement of single) {
    const db = /^CREATE DATABASE IF NOT EXISTS (\w+)$/.exec(statement);
    if (db) {
      out.push(`CREATE DATABASE IF NOT EXISTS ${db[1]} ${on}`);
      continue;
    }
    const table = /^CREATE TABLE IF NOT EXISTS (\w+)\.(\w+)(\s*\([\s\S]*?\n\))\s*ENGINE = (\w*MergeTree)(?:\(([^)]*)\))?([\s\S]*)$/.exec(statement);
    if (table) {
      const [, dbName, name, columns, engine, args, rest] = table as unknown as [string, string, string, string, string, string | undefined, string];
      tables.add(name);
      const path = `'/clickhouse/tables/{shard}/${dbName}/${name}_local', '{replica}'${args ? `, ${args}` : ''}`;
      // Replicated tables deduplicate by replicated_deduplication_window; carry our window over under that name.
      const settings = rest.replace(/\bnon_replicated_deduplication_window\b/g, 'replicated_deduplication_window');
      out.push(`CREATE TABLE IF NOT EXISTS ${dbName}.${name}_local ${on}${columns}\nENGINE = Replicated${engine}(${path})${settings}`);
      out.push(
        `CREATE TABLE IF NOT EXISTS ${dbName}.${name} ${on} AS ${dbName}.${name}_local\nENGINE = Distributed(${cluster}, ${dbName}, ${name}_local, ${SHARDING_KEY[name] ?? 'rand()'})`,
      );
      continue;
    }
    const mv = /^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+\.\w+) TO (\w+)\.(\w+) AS([\s\S]*)$/.exec(statement);
    if (mv) {
      const [, view, dbName, target, select] = mv as unknown as [string, string, string, string, string];
      // Each shard rolls up the rows it stores: the view reads and writes local tables.
      const localSelect = select.replace(new RegExp(`\\bFROM ${dbName}\\.(\\w+)`, 'g'), (m, t: string) => (tables.has(t) ? `FROM ${dbName}.${t}_local` : m));
      out.push(`CREATE MATERIALIZED VIEW IF NOT EXISTS ${view} ${on} TO ${dbName}.${target}_local AS${localSelect}`);
      continue;
    }
    const view = /^CREATE (VIEW IF NOT EXISTS|OR REPLACE VIEW) (\w+\.\w+) AS([\s\S]*)$/.exec(statement);
    if (view) {
      out.push(`CREATE ${view[1]} ${view[2]} ${on} AS${view[3]}`);
      continue;
    }
    const index = /^ALTER TABLE (\w+)\.(\w+)(\s+(?:ADD|MATERIALIZE|DROP) INDEX[\s\S]*)$/.exec(statement);
    if (index && tables.has(index[2] as string)) {
      // Skip indexes live with the data, in the local tables (a Distributed table has none).
      out.push(`ALTER TABLE ${index[1]}.${index[2]}_local ${on}${index[3]}`);
      continue;
    }
    const alter = /^ALTER TABLE (\w+)\.(\w+)(\s[\s\S]*)$/.exec(statement);
    if (alter && tables.has(alter[2] as string)) {
      // The local tables hold the data; the Distributed table over them must show the same columns.
      const [, dbName, name, change] = alter as unknown as [string, string, string, string];
      out.push(`ALTER TABLE ${dbName}.${name}_local ${on}${change}`);
      out.push(`ALTER TABLE ${dbName}.${name} ${on}${change}`);
      continue;
    }
    throw new TelemetryError('E_SCHEMA', `cannot turn this statement of the schema into cluster DDL: ${statement.slice(0, 80)}`);
  }
  return [...out, ...(await clusterRouteStatements(cluster, database))];
}

/**
 * The collector's route (templates/docker/otel-route.sql) on every node: its Null tables take the collector's inserts
 * on whichever node receives them, and each view writes into the Distributed table, which spreads the rows over shards.
 */
async function clusterRouteStatements(cluster: string, database: string): Promise<string[]> {
  const route = await loadSchemaFile(templatePath('docker', 'otel-route.sql'), database);
  return route.statements.map((statement) => {
    const named = /^(CREATE TABLE IF NOT EXISTS|CREATE MATERIALIZED VIEW IF NOT EXISTS|DROP VIEW IF EXISTS) (\w+\.\w+)/.exec(statement);
    if (!named) throw new TelemetryError('E_SCHEMA', `cannot turn this statement of the collector's route into cluster DDL: ${statement.slice(0, 80)}`);
    return `${named[1]} ${named[2]} ON CLUSTER ${cluster}${statement.slice(named[0].length)}`;
  });
}

/** The tables the cluster DDL turns into replicated `<name>_local` tables behind a Distributed `<name>`. */
export async function distributedTables(database: string): Promise<Set<string>> {
  const names = new Set<string>();
  for (const statement of (await loadSchema(database)).flatMap((file) => file.statements)) {
    const table = /^CREATE TABLE IF NOT EXISTS \w+\.(\w+)\s*\([\s\S]*\)\s*ENGINE = \w*MergeTree/.exec(statement);
    if (table) names.add(table[1] as string);
  }
  return names;
}

/**
 * ClickHouse server config for a cluster of `shards` x `replicas` nodes named clickhouse-s<shard>-r<replica> (as in
 * templates/cluster/), with Keeper at keeper:9181: what the cluster DDL's ON CLUSTER and Distributed tables expect.
 */
export function clusterConfigXml(cluster: string, shards: number, replicas: number): string {
  if (!Number.isInteger(shards) || shards < 1 || !Number.isInteger(replicas) || replicas < 1) {
    throw new TelemetryError('E_CONFIG', `--shards and --replicas must be whole numbers >= 1, got ${shards} and ${replicas}`);
  }
  const shardBlocks = Array.from({ length: shards }, (_, s) =>
    [
      '            <shard>',
      '                <internal_replication>true</internal_replication>',
      ...Array.from({ length: replicas }, (_, r) => `                <replica><host>clickhouse-s${s + 1}-r${r + 1}</host><port>9000</port></replica>`),
      '            </shard>',
    ].join('\n'),
  );
  return [
    `<!-- The cluster automagik-telemetry's cluster DDL names (schema print --cluster ${cluster}): ${shards} shards x ${replicas} replicas. -->`,
    '<clickhouse>',
    '    <remote_servers>',
    `        <${cluster}>`,
    '            <!-- Shards trust queries forwarded with this secret as the initial user\'s (whose grants then apply there),',
    `                 instead of logging in as "default", which the image removes: ${DOTENV_CLUSTER_SECRET} in <home>/.env. -->`,
    `            <secret from_env="${DOTENV_CLUSTER_SECRET}"/>`,
    ...shardBlocks,
    `        </${cluster}>`,
    '    </remote_servers>',
    '    <zookeeper>',
    '        <node><host>keeper</host><port>9181</port></node>',
    '    </zookeeper>',
    '    <distributed_ddl>',
    '        <path>/clickhouse/task_queue/ddl</path>',
    '    </distributed_ddl>',
    '</clickhouse>',
    '',
  ].join('\n');
}
