// Owns the Docker stack's ClickHouse users: templates/docker/roles.sql rendered with the roles' names and passwords.

import { readFile } from 'node:fs/promises';
import type { Config } from '../config/index.js';
import { TelemetryError } from '../errors.js';
import { templatePath } from '../paths.js';
import { splitStatements } from './index.js';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The CREATE USER / GRANT statements for `config`'s ingest and reader roles (admin is the image's own user). */
export async function roleStatements(config: Config, file = templatePath('docker', 'roles.sql')): Promise<string[]> {
  const { ingest, reader } = config.auth.roles;
  const values: Record<string, string> = {
    DATABASE: identifier(config.database, 'AUTOMAGIK_TELEMETRY_CLICKHOUSE_DATABASE'),
    INGEST_USER: identifier(ingest.username, 'CLICKHOUSE_INGEST_USER'),
    READER_USER: identifier(reader.username, 'CLICKHOUSE_READER_USER'),
    INGEST_PASSWORD: sqlString(required(ingest.password, 'ingest')),
    READER_PASSWORD: sqlString(required(reader.password, 'reader')),
  };
  const statements = splitStatements(await readFile(file, 'utf8'));
  return statements.map((statement) =>
    statement.replace(/\{\{([A-Z_]+)\}\}/g, (_, name: string) => {
      const value = values[name];
      if (value === undefined) throw new TelemetryError('E_SCHEMA', `${file}: unknown placeholder {{${name}}}`);
      return value;
    }),
  );
}

/**
 * The same users and grants for every node of a cluster (ON CLUSTER): users made by SQL live on each node, and the
 * inter-server secret makes a shard check a forwarded query against its initial user's grants there. An insert right
 * on a Distributed table comes with the same right on its replicated `<name>_local` table, which the rows reach.
 */
export async function clusterRoleStatements(config: Config, cluster: string, localTables: ReadonlySet<string>, file?: string): Promise<string[]> {
  const on = `ON CLUSTER ${cluster}`;
  const out: string[] = [];
  for (const statement of await roleStatements(config, file)) {
    const named = /^(CREATE SETTINGS PROFILE IF NOT EXISTS \w+|CREATE USER IF NOT EXISTS \w+|ALTER USER \w+)/.exec(statement);
    if (named) {
      out.push(`${named[1]} ${on}${statement.slice(named[0].length)}`);
      continue;
    }
    const grant = /^(GRANT|REVOKE) ([\s\S]*?) ON (\w+)\.(\w+|\*) (TO|FROM) (\w+)$/.exec(statement);
    if (!grant) throw new TelemetryError('E_SCHEMA', `cannot turn this statement of the roles into cluster DDL: ${statement.slice(0, 80)}`);
    const [, verb, rights, db, table, direction, user] = grant as unknown as [string, string, string, string, string, string, string];
    out.push(`${verb} ${on} ${rights} ON ${db}.${table} ${direction} ${user}`);
    if (localTables.has(table)) out.push(`${verb} ${on} ${rights} ON ${db}.${table}_local ${direction} ${user}`);
  }
  return out;
}

function identifier(value: string, setting: string): string {
  if (!IDENTIFIER.test(value)) {
    throw new TelemetryError('E_CONFIG', `${setting}=${JSON.stringify(value)} is not a valid ClickHouse name`, { hint: 'Use letters, digits and _.' });
  }
  return value;
}

function required(password: string | undefined, role: string): string {
  if (password === undefined) throw new TelemetryError('E_CONFIG', `no password for the ${role} role`, { hint: 'Run `automagik-telemetry start`: it generates one into <home>/.env.' });
  return password;
}

/** A ClickHouse string literal. */
export function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
