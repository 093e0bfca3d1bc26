import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config/index.js';
import { freePort } from './ports.js';

export interface TestHome {
  home: string;
  env: NodeJS.ProcessEnv;
  cleanup(): Promise<void>;
}

/** A temporary <home> with its own free ports, as environment variables the CLI and loadConfig read. */
export async function makeTestHome(extra: NodeJS.ProcessEnv = {}): Promise<TestHome> {
  const home = await mkdtemp(join(tmpdir(), 'amt-test-'));
  const env: NodeJS.ProcessEnv = {
    AUTOMAGIK_TELEMETRY_HOME: home,
    // Explicit, so that a developer's running Docker never turns an embedded-engine test into a Docker one.
    AUTOMAGIK_TELEMETRY_ENGINE: 'embedded',
    AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT: String(await freePort()),
    AUTOMAGIK_TELEMETRY_OTLP_PORT: String(await freePort()),
    AUTOMAGIK_TELEMETRY_OTLP_GRPC_PORT: String(await freePort()),
    AUTOMAGIK_TELEMETRY_DASHBOARD_PORT: String(await freePort()),
    ...extra,
  };
  return { home, env, cleanup: () => rm(home, { recursive: true, force: true }) };
}

/** A config for an in-process engine: every role (telemetry_ingest, telemetry_reader, telemetry) with `password`. */
export async function configFor(testHome: TestHome, password = 'test-password-1'): Promise<Config> {
  return loadConfig({
    env: {
      ...testHome.env,
      AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD: password,
      AUTOMAGIK_TELEMETRY_READER_PASSWORD: password,
      AUTOMAGIK_TELEMETRY_ADMIN_PASSWORD: password,
    },
  });
}
