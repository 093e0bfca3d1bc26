import { queryRows } from '../../src/clickhouse/http-client.js';
import { ROLES, type Role } from '../../src/config/roles.js';
import { cli } from './cli.js';
import { makeTestHome, type TestHome } from './home.js';
import { basicAuthorization } from '../../src/clickhouse/auth-header.js';

export interface RunningStack {
  home: TestHome;
  /** What `env --json` prints: endpoints and the ingest credential (what an app holds). */
  vars: Record<string, string>;
  /** Each role's user and password, as `env --role <role> --json` prints them. */
  roles: Record<Role, { username: string; password: string }>;
  /** The Basic auth header for a role. */
  auth(role: Role): string;
  rows<T>(sql: string, params?: Record<string, string>): Promise<T[]>;
  stop(): Promise<void>;
}

/** Starts an embedded engine through the CLI in a fresh home, as a user would. */
export async function startStack(extraEnv: NodeJS.ProcessEnv = {}): Promise<RunningStack> {
  const home = await makeTestHome(extraEnv);
  const started = await cli(['start'], home.env);
  if (started.code !== 0) throw new Error(`start failed: ${started.stderr}`);
  const vars = JSON.parse((await cli(['env', '--json'], home.env)).stdout) as Record<string, string>;
  const roles = {} as RunningStack['roles'];
  for (const role of ROLES) {
    const printed = JSON.parse((await cli(['env', '--role', role, '--json'], home.env)).stdout) as Record<string, string>;
    roles[role] = { username: printed.AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME ?? '', password: printed.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD ?? '' };
  }
  return {
    home,
    vars,
    roles,
    auth: (role) => basicAuthorization({ username: roles[role].username, password: roles[role].password }),
    rows: (sql, params = {}) => queryRows({ url: vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT ?? '', ...roles.admin, database: 'telemetry' }, sql, params),
    stop: async () => {
      await cli(['stop'], home.env);
      await home.cleanup();
    },
  };
}
