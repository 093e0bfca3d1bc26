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
