// Owns reading and updating the `<home>/.env` file: KEY=VALUE lines, comments, optional quotes.

import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TelemetryError } from '../errors.js';

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses .env text. Throws E_CONFIG naming the file and line of the first malformed line. */
export function parseDotenv(text: string, file = '.env'): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const body = line.startsWith('export ') ? line.slice(7).trimStart() : line;
    const eq = body.indexOf('=');
    const key = eq === -1 ? body : body.slice(0, eq).trim();
    if (eq === -1 || !KEY.test(key)) {
      throw new TelemetryError('E_CONFIG', `${file}:${index + 1}: expected KEY=VALUE, got ${JSON.stringify(raw.slice(0, 80))}`, {
        hint: 'Fix or delete that line; keys are letters, digits and underscores.',
        details: { file, line: index + 1 },
      });
    }
    out[key] = unquote(body.slice(eq + 1).trim());
  });
  return out;
}

function unquote(value: string): string {
  if (value.length >= 2) {
    const q = value[0];
    if ((q === '"' || q === "'") && value.endsWith(q)) {
      const inner = value.slice(1, -1);
      return q === '"' ? inner.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\') : inner;
    }
  }
  const hash = value.search(/\s#/);
  return hash === -1 ? value : value.slice(0, hash).trimEnd();
}

/** Reads a .env file; a missing file is an empty one. */
export async function readDotenv(file: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new TelemetryError('E_CONFIG', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseDotenv(text, file);
}

function formatValue(value: string): string {
  return /^[A-Za-z0-9_./:@+-]*$/.test(value) ? value : JSON.stringify(value);
}

/**
 * Sets keys in a .env file, keeping every other line (and comments) as they were.
 * The file is written with mode 0600 because it holds credentials.
 */
export async function updateDotenv(file: string, values: Record<string, string>): Promise<void> {
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const pending = new Map(Object.entries(values));
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const updated = lines.map((line) => {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line);
    const key = match?.[1];
    if (key !== undefined && pending.has(key)) {
      const value = pending.get(key) as string;
      pending.delete(key);
      return `${key}=${formatValue(value)}`;
    }
    return line;
  });
  if (lines.length === 0) updated.push('# automagik-telemetry credentials and settings (keep this file private: mode 0600)');
  for (const [key, value] of pending) updated.push(`${key}=${formatValue(value)}`);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${updated.join('\n')}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
}
