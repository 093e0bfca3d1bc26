// Owns finding the local stack's ingest credential for an SDK given none: <home>/.env, as `send` and `env` read it.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULTS, ENV_PREFIX } from '../config/defaults.js';
import { ROLE_SPECS } from '../config/roles.js';
import { parseDotenv } from '../config/dotenv.js';

/** The ingest role's credential, written by `start` once the stack has roles. */
export const DOTENV_INGEST_USER = ROLE_SPECS.ingest.dotenvUser;
export const DOTENV_INGEST_PASSWORD = ROLE_SPECS.ingest.dotenvPassword;
export const INGEST_USERNAME = ROLE_SPECS.ingest.username;

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
  // A home from before the roles (not started since): its single user, the admin one.
  const admin = ROLE_SPECS.admin;
  const password = values[`${ENV_PREFIX}CLICKHOUSE_PASSWORD`] || values[admin.dotenvPassword];
  if (password) return { username: values[`${ENV_PREFIX}CLICKHOUSE_USERNAME`] || values[admin.dotenvUser] || admin.username, password, file };
  return undefined;
}

/**
 * The local stack's TLS, when `start --tls` recorded it for the home (<home>/run/stack.json): the CA its clients
 * trust, <home>/certs/ca.crt (server.crt when the user gave no CA). Undefined for a plain-http or unknown home.
 */
export function readStackTls(env: NodeJS.ProcessEnv): { caFile: string } | undefined {
  const home = stackHome(env);
  try {
    const stack = JSON.parse(readFileSync(join(home, 'run', 'stack.json'), 'utf8')) as { tls?: unknown };
    if (stack.tls !== true) return undefined;
  } catch {
    return undefined;
  }
  const ca = join(home, 'certs', 'ca.crt');
  const server = join(home, 'certs', 'server.crt');
  return { caFile: !existsSync(ca) && existsSync(server) ? server : ca };
}
