// Owns telling a failure in the terms of the stack it happened on: "not running" with the command that starts it, whose password was refused.

import { ClickHouseError } from '../clickhouse/errors.js';
import { ROLE_SPECS, ROLES, type Config, type Role } from '../config/index.js';
import { TelemetryError } from '../errors.js';
import type { Stack } from './stack.js';

const AUTH_NAMES = new Set(['AUTHENTICATION_FAILED', 'REQUIRED_PASSWORD', 'WRONG_PASSWORD', 'UNKNOWN_USER']);

/** The failure as the user should read it; anything not recognised passes through unchanged. */
export async function inContext(error: unknown, stack: Pick<Stack, 'config' | 'startCommand' | 'ui'>): Promise<unknown> {
  // Only a refusal on one of the stack's own ports means it is down (Docker's socket refusing is another story).
  const refused = refusedAddress(error);
  const ports = Object.values(stack.config.ports).map(String);
  if (refused !== undefined && ports.includes(/:(\d+)(?:\/|$)/.exec(refused)?.[1] ?? '')) return notRunning(stack, refused, error);
  if (error instanceof ClickHouseError && (AUTH_NAMES.has(error.serverName) || error.serverCode === 516 || error.serverCode === 194)) {
    return authFailure(stack.config, roleOf(stack.config, error.message), error.serverName || `code ${error.serverCode}`, error);
  }
  return error;
}

export function notRunning(stack: Pick<Stack, 'startCommand'>, address: string, cause?: unknown): TelemetryError {
  return new TelemetryError('E_ENGINE_NOT_RUNNING', `the stack is not running: nothing answers at ${address}`, {
    cause,
    hint: `Start it with \`${stack.startCommand}\`.`,
    details: { address },
  });
}

/** Throws "not running" when nothing listens at the URL's host and port (a refused connection, at once; no retries). */
export async function assertListening(url: URL, stack: Pick<Stack, 'startCommand'>): Promise<void> {
  const { connect } = await import('node:net');
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const refused = await new Promise<boolean>((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(3_000);
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
  if (refused) throw notRunning(stack, `${host}:${port}`);
}

/** "host:port" when `error` (or a cause of it) is a refused connection, else undefined. */
export function refusedAddress(error: unknown): string | undefined {
  for (let e = error as { code?: string; message?: string; cause?: unknown; address?: string; port?: number } | undefined, depth = 0; e && depth < 6; e = e.cause as typeof e, depth++) {
    if (e.code === 'ECONNREFUSED') return e.address !== undefined && e.port !== undefined ? `${e.address}:${e.port}` : 'its address';
    const m = typeof e.message === 'string' ? /cannot reach (\S+): ECONNREFUSED/.exec(e.message) : null;
    if (m) return m[1] as string;
  }
  return undefined;
}

/** The role whose user the server named in its refusal ("<user>: Authentication failed …"); admin when it named none. */
function roleOf(config: Config, message: string): Role {
  const user = /(?:^|DB::Exception: )([^:\s]+): Authentication failed/.exec(message)?.[1];
  return ROLES.find((role) => config.auth.roles[role].username === user) ?? 'admin';
}

/** Where the password a role's user sent came from: a variable, <home>/.env, or nowhere. */
export function credentialSource(config: Config, role: Role): string {
  const credential = config.auth.roles[role];
  if (credential.password === undefined) return `no password (none in the environment or in ${config.paths.envFile})`;
  return `the password from ${credential.source.replace('<home>/.env', config.paths.envFile)}`;
}

export function authFailure(config: Config, role: Role, reason: string, cause?: unknown): TelemetryError {
  const credential = config.auth.roles[role];
  const source = credentialSource(config, role);
  const variable = ROLE_SPECS[role].envPassword;
  const fromEnv = credential.source.includes('environment variable');
  return new TelemetryError('E_AUTH', `the stack refused user "${credential.username}" (${role} role) with ${source} (${reason})`, {
    cause,
    hint: fromEnv
      ? `Unset ${variable} to use the stack's own password from ${config.paths.envFile}, or set it to the right one.`
      : `The stack in ${config.home} was started with another password: \`automagik-telemetry restart\` picks up the one in ${config.paths.envFile}.`,
    details: { user: credential.username, role, source },
  });
}
