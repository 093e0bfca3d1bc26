// Owns finding the local stack's ingest credential for an SDK given none: <home>/.env, as `send` and `env` read it.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULTS, DOTENV_PASSWORD, DOTENV_USER, ENV_PREFIX } from '../config/defaults.js';
import { parseDotenv } from '../config/dotenv.js';

/** The ingest role's credential, written by `start` once the stack has roles. */
export const DOTENV_INGEST_USER = 'CLICKHOUSE_INGEST_USER';
export const DOTENV_INGEST_PASSWORD = 'CLICKHOUSE_INGEST_PASSWORD';
export const INGEST_USERNAME = 'telemetry_ingest';

export interface StackCredential {
  username: string;
  password: string;
  /** Where it came from, for messages. */
  file: string;
}

/** The stack's home: AUTOMAGIK_TELEMETRY_HOME, else the default home. */
export function stackHome(env: NodeJS.ProcessEnv): string {
  return env[`${ENV_PREFIX}HOME`] || DEFAULTS.home;
}

/**
 * The credential in `<home>/.env`: the ingest role's when present (CLICKHOUSE_INGEST_USER/_PASSWORD), else the
 * stack's single user (CLICKHOUSE_USER/_PASSWORD). Undefined when the file is missing, unreadable or has neither.
 */
export function readStackCredential(env: NodeJS.ProcessEnv): StackCredential | undefined {
  const file = join(stackHome(env), '.env');
  let values: Record<string, string>;
  try {
    values = parseDotenv(readFileSync(file, 'utf8'), file);
  } catch {
    return undefined;
  }
  const ingest = values[DOTENV_INGEST_PASSWORD];
  if (ingest) return { username: values[DOTENV_INGEST_USER] || INGEST_USERNAME, password: ingest, file };
  const password = values[`${ENV_PREFIX}CLICKHOUSE_PASSWORD`] || values[DOTENV_PASSWORD];
  if (password) return { username: values[`${ENV_PREFIX}CLICKHOUSE_USERNAME`] || values[DOTENV_USER] || DEFAULTS.username, password, file };
  return undefined;
}
