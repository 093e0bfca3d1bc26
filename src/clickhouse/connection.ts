// Owns how anything reaches the stack's ClickHouse: the endpoint, the role's credential and its Basic auth header.

import { stackEndpoints, type Config } from '../config/index.js';
import { ROLE_SPECS, type Role } from '../config/roles.js';
import type { Trust } from '../tls/fetch.js';

export interface ClickHouseConnection {
  url: string;
  username: string;
  password: string | undefined;
  database?: string;
  timeoutMs?: number;
  /** The role and where its password came from, for error messages (never the password itself). */
  role?: Role;
  credentialSource?: string;
  /** The CA an https url is verified against (the stack's <home>/certs/ca.crt with TLS on). */
  trust?: Trust;
}

export { basicAuthorization } from './auth-header.js';

/** A connection to the stack's ClickHouse HTTP endpoint as `role`, in the telemetry database. */
export function connectionFor(config: Config, role: Role, timeoutMs = 60_000): ClickHouseConnection {
  const credential = config.auth.roles[role];
  return {
    url: stackEndpoints(config).clickhouse,
    username: credential.username,
    password: config.auth.required ? credential.password : undefined,
    database: config.database,
    timeoutMs,
    role,
    credentialSource: credential.source,
    ...(config.tls.enabled ? { trust: { caFile: config.tls.caFile } } : {}),
  };
}

/** The CA a client of this stack trusts: its <home>/certs CA with TLS on, nothing otherwise. */
export function stackTrust(config: Config): Trust | undefined {
  return config.tls.enabled ? { caFile: config.tls.caFile } : undefined;
}

/** Words for an authentication failure: which user, which role, and where its password came from. */
export function describeCredential(connection: Pick<ClickHouseConnection, 'username' | 'role' | 'credentialSource'>): string {
  const role = connection.role ? ` (${connection.role} role: ${ROLE_SPECS[connection.role].purpose.split(':')[0]})` : '';
  const source = connection.credentialSource ? `, password from ${connection.credentialSource}` : '';
  return `user "${connection.username}"${role}${source}`;
}
