// Owns checking the files a command is given before it uses them: missing, a folder, unreadable, each named with the fix.

import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { TelemetryError } from '../errors.js';

/**
 * The absolute path of a file to read. `what` says what it should be ("the backup to restore"); `fix` what to do
 * when it is not there (a command that writes one, or how to pass another).
 */
export async function fileToRead(path: string, what: string, fix: string): Promise<string> {
  const file = resolve(path);
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => error);
  if (info instanceof Error) {
    if (info.code === 'ENOENT' || info.code === 'ENOTDIR') throw new TelemetryError('E_FILE', `${file} does not exist (${what})`, { hint: fix, details: { file } });
    throw new TelemetryError('E_FILE', `cannot read ${file} (${what}): ${info.code ?? info.message}`, { hint: fix, details: { file } });
  }
  if (info.isDirectory()) throw new TelemetryError('E_FILE', `${file} is a folder, not a file (${what})`, { hint: fix, details: { file } });
  try {
    await access(file, constants.R_OK);
  } catch {
    throw new TelemetryError('E_FILE', `cannot read ${file} (${what}): permission denied`, { hint: `Check its permissions (ls -l ${file}), or run as its owner.`, details: { file } });
  }
  return file;
}

/** The absolute path of a file to create: its folder must exist and be writable, and the path must not be a folder. */
export async function fileToWrite(path: string, what: string): Promise<string> {
  const file = resolve(path);
  const info = await stat(file).catch(() => undefined);
  if (info?.isDirectory()) {
    throw new TelemetryError('E_FILE', `${file} is a folder (${what})`, { hint: `Name a file inside it, e.g. -o ${file}/telemetry.backup.gz.`, details: { file } });
  }
  const folder = dirname(file);
  const folderInfo = await stat(folder).catch(() => undefined);
  if (!folderInfo?.isDirectory()) throw new TelemetryError('E_FILE', `cannot write ${file} (${what}): ${folder} is not a folder`, { hint: `Create it first (mkdir -p ${folder}).`, details: { file } });
  try {
    await access(folder, constants.W_OK);
  } catch {
    throw new TelemetryError('E_FILE', `cannot write ${file} (${what}): ${folder} is not writable`, { hint: 'Choose another place with -o.', details: { file } });
  }
  return file;
}
