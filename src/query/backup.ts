// Owns backup and restore: a portable gzip file (header with schema, JSONEachRow rows, trailer with count and SHA-256)
// that both engines write and read over ClickHouse's HTTP interface.
// Why JSONEachRow and not Native: the embedded engine's HTTP interface takes text formats for inserts, and one
// format for both engines keeps every backup restorable into either; gzip keeps it small.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { queryRows, runStatement, statementRunner, streamStatement, type ClickHouseConnection } from '../clickhouse/http-client.js';
import { TelemetryError } from '../errors.js';
import { packageVersion, templatePath } from '../paths.js';
import { applySchema } from '../schema/index.js';
import { hoursOf, rebuildRollupHours } from '../schema/rollups.js';

export const BACKUP_FORMAT = 'automagik-telemetry-backup';
const FORMAT_VERSION = 1;

export interface BackupHeader {
  format: typeof BACKUP_FORMAT;
  version: number;
  created_at: string;
  tool_version: string;
  database: string;
  schema_version: number;
  table: 'traces';
  /** templates/init-db.sql as it was when the backup was made. */
  schema: string;
}

export interface BackupTrailer {
  end: typeof BACKUP_FORMAT;
  rows: number;
  /** SHA-256 over the row lines, each with its newline. */
  sha256: string;
}

export interface BackupResult {
  file: string;
  rows: number;
  sha256: string;
  bytes: number;
}

/** Writes every row of `traces` to `file` (through a temporary file, renamed once complete). */
export async function writeBackup(connection: ClickHouseConnection, database: string, file: string, onProgress?: (rows: number) => void): Promise<BackupResult> {
  const [version] = await queryRows<{ v: number }>(connection, `SELECT max(version) AS v FROM ${database}.schema_versions`);
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    version: FORMAT_VERSION,
    created_at: new Date().toISOString(),
    tool_version: packageVersion(),
    database,
    schema_version: version?.v ?? 0,
    table: 'traces',
    schema: await readFile(templatePath('init-db.sql'), 'utf8'),
  };
  const partial = `${file}.partial-${randomBytes(4).toString('hex')}`;
  const gzip = createGzip();
  const out = createWriteStream(partial, { mode: 0o600 });
  const done = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
    gzip.on('error', reject);
  });
  gzip.pipe(out);
  const write = (text: string) => (gzip.write(text) ? Promise.resolve() : new Promise<void>((r) => gzip.once('drain', () => r())));
  const hash = createHash('sha256');
  let rows = 0;
  try {
    await write(`${JSON.stringify(header)}\n`);
    let partialLine = '';
    for await (const chunk of streamStatement(connection, `SELECT * FROM ${database}.traces ORDER BY timestamp, span_id FORMAT JSONEachRow`, {
      settings: { output_format_json_quote_64bit_integers: 0 },
    })) {
      const text = partialLine + Buffer.from(chunk).toString('utf8');
      const end = text.lastIndexOf('\n');
      partialLine = text.slice(end + 1);
      if (end === -1) continue;
      const complete = text.slice(0, end + 1);
      hash.update(complete);
      for (let i = complete.indexOf('\n'); i !== -1; i = complete.indexOf('\n', i + 1)) rows++;
      await write(complete);
      onProgress?.(rows);
    }
    const trailer: BackupTrailer = { end: BACKUP_FORMAT, rows, sha256: hash.digest('hex') };
    await write(`${JSON.stringify(trailer)}\n`);
    gzip.end();
    await done;
    await rename(partial, file);
    const { size } = await stat(file);
    return { file, rows, sha256: trailer.sha256, bytes: size };
  } catch (error) {
    gzip.destroy();
    out.destroy();
    await rm(partial, { force: true });
    throw error;
  }
}

/** Reads a backup's lines: header first, then rows, then the trailer. */
async function* lines(file: string): AsyncGenerator<string> {
  let partial = '';
  const stream = createReadStream(file).pipe(createGunzip());
  try {
    for await (const chunk of stream) {
      const text = partial + (chunk as Buffer).toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      yield* parts;
    }
  } catch (error) {
    throw refused(file, `it is not a complete gzip file (${(error as Error).message})`);
  }
  if (partial !== '') yield partial;
}

function refused(file: string, reason: string): TelemetryError {
  return new TelemetryError('E_REFUSED', `refusing to restore ${file}: ${reason}; the store was not changed`, { details: { file } });
}

/** Checks a backup end to end (header, every row counted and hashed, trailer) without touching any store. */
export async function verifyBackup(file: string): Promise<{ header: BackupHeader; trailer: BackupTrailer }> {
  let header: BackupHeader | undefined;
  let trailer: BackupTrailer | undefined;
  const hash = createHash('sha256');
  let rows = 0;
  let n = 0;
  for await (const line of lines(file)) {
    n++;
    if (n === 1) {
      try {
        header = JSON.parse(line) as BackupHeader;
      } catch {
        throw refused(file, 'its first line is not an automagik-telemetry backup header');
      }
      if (header?.format !== BACKUP_FORMAT) throw refused(file, 'it is not an automagik-telemetry backup');
      if (header.version > FORMAT_VERSION) throw refused(file, `it was written in backup format ${header.version}, newer than this tool reads (${FORMAT_VERSION})`);
      continue;
    }
    if (trailer) throw refused(file, `it has data after its end marker (line ${n})`);
    if (line.startsWith(`{"end":"${BACKUP_FORMAT}"`)) {
      trailer = JSON.parse(line) as BackupTrailer;
      continue;
    }
    hash.update(`${line}\n`);
    rows++;
  }
  if (!header) throw refused(file, 'it is empty');
  if (!trailer) throw refused(file, 'it is truncated (no end marker)');
  if (trailer.rows !== rows) throw refused(file, `it announces ${trailer.rows} rows but holds ${rows}`);
  if (trailer.sha256 !== hash.digest('hex')) throw refused(file, 'its checksum does not match its rows (the file is corrupt)');
  return { header, trailer };
}

export interface RestoreResult {
  file: string;
  rows: number;
  replaced: boolean;
}

/**
 * Restores a verified backup. Rows are first loaded into a scratch table; if any of them is already in the store
 * the restore stops (unless `replace`, which empties the store first) and the store is left as it was.
 */
export async function restoreBackup(
  connection: ClickHouseConnection,
  database: string,
  file: string,
  options: { replace: boolean; onProgress?: (rows: number) => void },
): Promise<RestoreResult> {
  const { header, trailer } = await verifyBackup(file);
  const runner = statementRunner(connection);
  const { version } = await applySchema(runner, database);
  if (header.schema_version > version) {
    throw refused(file, `it was made with schema version ${header.schema_version}, newer than this store's ${version}: upgrade automagik-telemetry first`);
  }
  const scratch = `${database}._restore_${randomBytes(4).toString('hex')}`;
  // Restores must never be taken for retried inserts: a replaced store would otherwise drop identical blocks.
  const noDedup = { insert_deduplicate: 0 };
  await runStatement(connection, `CREATE TABLE ${scratch} AS ${database}.traces ENGINE = MergeTree ORDER BY tuple()`);
  try {
    let batch: string[] = [];
    let loaded = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      await runStatement(connection, `INSERT INTO ${scratch} FORMAT JSONEachRow`, { data: `${batch.join('\n')}\n`, settings: noDedup });
      loaded += batch.length;
      batch = [];
      options.onProgress?.(loaded);
    };
    let n = 0;
    for await (const line of lines(file)) {
      n++;
      if (n === 1 || line.startsWith(`{"end":"${BACKUP_FORMAT}"`)) continue;
      batch.push(line);
      if (batch.length >= 20_000) await flush();
    }
    await flush();
    const [overlap] = await queryRows<{ n: number }>(
      connection,
      `SELECT count() AS n FROM ${scratch} WHERE (trace_id, span_id) IN (SELECT trace_id, span_id FROM ${database}.traces)`,
    );
    if ((overlap?.n ?? 0) > 0 && !options.replace) {
      throw refused(file, `${overlap?.n} of its ${trailer.rows} rows are already in the store (use --replace to replace the store's data with the backup)`);
    }
    if (options.replace) {
      await runStatement(connection, `TRUNCATE TABLE ${database}.traces`);
      await runStatement(connection, `TRUNCATE TABLE ${database}.metrics_hourly_state`);
    }
    await runStatement(connection, `INSERT INTO ${database}.traces SELECT * FROM ${scratch}`, { settings: noDedup });
    // The restored rows keep their insert times, behind the rollup's watermark: their hours are rebuilt from the rows.
    await rebuildRollupHours(runner, database, 'metrics_hourly', await hoursOf(runner, scratch));
    return { file, rows: trailer.rows, replaced: options.replace };
  } finally {
    await runStatement(connection, `DROP TABLE IF EXISTS ${scratch}`).catch(() => undefined);
  }
}
