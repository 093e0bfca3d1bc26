import { queryRows } from '../../src/clickhouse/http-client.js';
import { cli } from './cli.js';
import { makeTestHome, type TestHome } from './home.js';

export interface RunningStack {
  home: TestHome;
  /** What `env --json` prints: endpoints and credentials. */
  vars: Record<string, string>;
  rows<T>(sql: string, params?: Record<string, string>): Promise<T[]>;
  stop(): Promise<void>;
}

/** Starts an embedded engine through the CLI in a fresh home, as a user would. */
export async function startStack(extraEnv: NodeJS.ProcessEnv = {}): Promise<RunningStack> {
  const home = await makeTestHome(extraEnv);
  const started = await cli(['start'], home.env);
  if (started.code !== 0) throw new Error(`start failed: ${started.stderr}`);
  const vars = JSON.parse((await cli(['env', '--json'], home.env)).stdout) as Record<string, string>;
  return {
    home,
    vars,
    rows: (sql, params = {}) =>
      queryRows({ url: vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT ?? '', username: 'telemetry', password: vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD, database: 'telemetry' }, sql, params),
    stop: async () => {
      await cli(['stop'], home.env);
      await home.cleanup();
    },
  };
}
