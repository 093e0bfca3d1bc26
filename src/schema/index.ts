// Owns the stack's schema: loads templates/init-db.sql (+ templates/migrations/), applies it idempotently, records versions.

import { readFile, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { TelemetryError } from '../errors.js';
import { templatePath } from '../paths.js';

/** Anything that can run one SQL statement and return its text output (embedded engine or HTTP client). */
export interface SqlRunner {
  run(sql: string): Promise<string>;
}

export interface SchemaFile {
  version: number;
  name: string;
  statements: string[];
}

export interface ApplyResult {
  /** The highest version recorded after applying. */
  version: number;
  /** Versions recorded by this call (empty when the store was already current). */
  applied: number[];
}

const VERSION_MARK = /^--\s*schema-version:\s*(\d+)\s*$/m;

/** Splits a SQL file into statements: drops comment lines, splits on ';' at the end of a line. */
export function splitStatements(sql: string): string[] {
  return sql
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Points the template's `telemetry` database at the configured one. */
export function forDatabase(sql: string, database: string): string {
  if (database === 'telemetry') return sql;
  return sql.replace(/\btelemetry\./g, `${database}.`).replace(/(DATABASE IF NOT EXISTS )telemetry\b/g, `$1${database}`);
}

/** Loads the base schema and every migration, in version order. */
export async function loadSchema(database: string, dir = templatePath()): Promise<SchemaFile[]> {
  const files: SchemaFile[] = [await loadFile(join(dir, 'init-db.sql'), 'init-db.sql', database)];
  let names: string[] = [];
  try {
    names = (await readdir(join(dir, 'migrations'))).filter((n) => n.endsWith('.sql')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  for (const name of names) files.push(await loadFile(join(dir, 'migrations', name), name, database));
  files.sort((a, b) => a.version - b.version);
  for (let i = 1; i < files.length; i++) {
    const prev = files[i - 1] as SchemaFile;
    const cur = files[i] as SchemaFile;
    if (prev.version === cur.version) {
      throw new TelemetryError('E_SCHEMA', `schema files ${prev.name} and ${cur.name} both claim version ${cur.version}`);
    }
  }
  return files;
}

/** The whole single-node schema as SQL text for `database`: the base file, then each migration, in version order. */
export async function schemaText(database: string, dir = templatePath()): Promise<string> {
  const files = await loadSchema(database, dir);
  const texts = await Promise.all(files.map((f) => readFile(f.name === 'init-db.sql' ? join(dir, f.name) : join(dir, 'migrations', f.name), 'utf8')));
  return texts.map((t) => forDatabase(t, database).trim()).join('\n\n');
}

/** Loads one schema file (statements for `database`), e.g. the Docker stack's collector route. */
export function loadSchemaFile(path: string, database: string): Promise<SchemaFile> {
  return loadFile(path, basename(path), database);
}

async function loadFile(path: string, name: string, database: string): Promise<SchemaFile> {
  const text = await readFile(path, 'utf8');
  const mark = VERSION_MARK.exec(text);
  if (!mark) {
    throw new TelemetryError('E_SCHEMA', `${path}: missing a "-- schema-version: N" line`, {
      hint: 'Every schema file states the version it brings the store to.',
    });
  }
  return { version: Number(mark[1]), name, statements: splitStatements(forDatabase(text, database)) };
}

/**
 * Applies the schema: the base file always (it is idempotent), then each migration newer than the recorded version.
 * Each applied file is recorded in <database>.schema_versions.
 */
export async function applySchema(runner: SqlRunner, database: string, dir?: string): Promise<ApplyResult> {
  const files = await loadSchema(database, dir);
  const [base, ...migrations] = files as [SchemaFile, ...SchemaFile[]];
  await runAll(runner, base);
  const current = Number((await runner.run(`SELECT max(version) FROM ${database}.schema_versions FORMAT TabSeparated`)).trim() || 0);
  const applied: number[] = [];
  if (current < base.version) {
    await record(runner, database, base);
    applied.push(base.version);
  }
  let version = Math.max(current, base.version);
  for (const migration of migrations) {
    if (migration.version <= version) continue;
    await runAll(runner, migration);
    await record(runner, database, migration);
    applied.push(migration.version);
    version = migration.version;
  }
  return { version, applied };
}

async function runAll(runner: SqlRunner, file: SchemaFile): Promise<void> {
  for (const [index, statement] of file.statements.entries()) {
    try {
      await runner.run(statement);
    } catch (error) {
      throw new TelemetryError('E_SCHEMA', `${file.name}, statement ${index + 1}: ${(error as Error).message}`, {
        cause: error,
        details: { file: file.name, statement: index + 1 },
      });
    }
  }
}

async function record(runner: SqlRunner, database: string, file: SchemaFile): Promise<void> {
  const description = file.name.replace(/'/g, '');
  await runner.run(`INSERT INTO ${database}.schema_versions (version, description) VALUES (${file.version}, '${description}')`);
}
