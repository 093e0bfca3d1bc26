// An embedded engine served from the test's own process, in a fresh home: the quickest real engine for a test file.

import { afterAll, beforeAll } from 'vitest';
import { basicAuthorization } from '../../src/clickhouse/auth-header.js';
import type { ClickHouseConnection } from '../../src/clickhouse/connection.js';
import type { Config } from '../../src/config/index.js';
import type { Role } from '../../src/config/roles.js';
import { startEmbeddedServer, type RunningEmbeddedServer } from '../../src/engine/embedded/server.js';
import { configFor, makeTestHome, type TestHome } from './home.js';

export interface InProcessEngine {
  home: TestHome;
  config: Config;
  server: RunningEmbeddedServer;
  /** The ClickHouse HTTP endpoint, e.g. http://127.0.0.1:PORT */
  clickhouse: string;
  /** The OTLP/HTTP endpoint's base, e.g. http://127.0.0.1:PORT */
  otlp: string;
  /** The Basic auth header of a role. */
  auth(role: Role): string;
  /** A connection to the telemetry database as a role. */
  connection(role: Role): ClickHouseConnection;
  close(): Promise<void>;
}

export async function startInProcessEngine(extraEnv: NodeJS.ProcessEnv = {}): Promise<InProcessEngine> {
  const home = await makeTestHome(extraEnv);
  const config = await configFor(home);
  const server = await startEmbeddedServer(config);
  const clickhouse = `http://127.0.0.1:${config.ports.clickhouse}`;
  const credential = (role: Role) => ({ username: config.auth.roles[role].username, password: config.auth.roles[role].password ?? '' });
  return {
    home,
    config,
    server,
    clickhouse,
    otlp: `http://127.0.0.1:${config.ports.otlp}`,
    auth: (role) => basicAuthorization(credential(role)),
    connection: (role) => ({ url: clickhouse, ...credential(role), database: config.database }) as ClickHouseConnection,
    close: async () => {
      await server.close();
      await home.cleanup();
    },
  };
}

/** Starts one engine for the file's tests (beforeAll) and closes it after them; read it inside tests. */
export function useInProcessEngine(extraEnv: NodeJS.ProcessEnv = {}): () => InProcessEngine {
  let engine: InProcessEngine | undefined;
  beforeAll(async () => {
    engine = await startInProcessEngine(extraEnv);
  });
  afterAll(async () => {
    await engine?.close();
  });
  return () => {
    if (!engine) throw new Error('the engine is not started yet: read it inside a test');
    return engine;
  };
}
