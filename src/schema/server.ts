// Owns putting a ClickHouse server in shape for the Docker stack or the cluster example: tables, the collector's route, users, retention.

import type { Config } from '../config/index.js';
import { templatePath } from '../paths.js';
import { clusterStatements, distributedTables } from './cluster.js';
import { applySchema, loadSchemaFile, type ApplyResult, type SqlRunner } from './index.js';
import { applyRetention, retentionRunner, withRetention, type RetentionChange } from './retention.js';
import { clusterRoleStatements, roleStatements } from './roles.js';

export interface ServerSchemaResult extends ApplyResult {
  /** Tables whose TTL changed to the configured retention. */
  retention: RetentionChange[];
}

/**
 * The single-node server (the Docker stack, or one started with plain `docker compose`): the schema, the collector's
 * route, then the ingest and reader users. Users last: on a new server the collector (which logs in as ingest) can
 * insert only once every route table has its view, so no row lands in a table nothing reads.
 */
export async function applyServerSchema(runner: SqlRunner, config: Config): Promise<ServerSchemaResult> {
  const withTtl = retentionRunner(runner, config.retentionDays);
  const result = await applySchema(withTtl, config.database);
  for (const statement of (await loadSchemaFile(templatePath('docker', 'otel-route.sql'), config.database)).statements) await withTtl.run(statement);
  for (const statement of await roleStatements(config)) await runner.run(statement);
  const retention = await applyRetention(runner, config.database, config.retentionDays);
  return { ...result, retention };
}

/** The cluster DDL (with the route), the users on every node, and the retention ON CLUSTER. */
export async function applyClusterSchema(runner: SqlRunner, config: Config, cluster: string): Promise<{ statements: number; retention: RetentionChange[] }> {
  const statements = (await clusterStatements(cluster, config.database)).map((s) => withRetention(s, config.retentionDays));
  const roles = await clusterRoleStatements(config, cluster, await distributedTables(config.database));
  for (const statement of [...statements, ...roles]) await runner.run(statement);
  const retention = await applyRetention(runner, config.database, config.retentionDays, cluster);
  return { statements: statements.length + roles.length, retention };
}
