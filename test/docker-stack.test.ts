import { describe, expect, it } from 'vitest';
import { loadStack } from '../src/engine/docker/stack.js';
import { templatePath } from '../src/paths.js';

const file = templatePath('docker-compose.yml');
const secrets = { CLICKHOUSE_PASSWORD: 'pw', CLICKHOUSE_INGEST_PASSWORD: 'pw', CLICKHOUSE_READER_PASSWORD: 'pw', GRAFANA_ADMIN_PASSWORD: 'pw' };

describe("ClickHouse's limits in the compose file", () => {
  it('states nofile and nproc, each settable, so Podman raises neither past what the host allows', async () => {
    const defaults = await loadStack(file, secrets);
    expect(defaults.services.find((s) => s.name === 'clickhouse')?.ulimits).toEqual([
      { name: 'nofile', soft: 262144, hard: 262144 },
      { name: 'nproc', soft: 32768, hard: 32768 },
    ]);
    const lowered = await loadStack(file, { ...secrets, AUTOMAGIK_TELEMETRY_CLICKHOUSE_NOFILE: '1024', AUTOMAGIK_TELEMETRY_CLICKHOUSE_NPROC: '2048' });
    expect(lowered.services.find((s) => s.name === 'clickhouse')?.ulimits.map((u) => [u.name, u.soft])).toEqual([
      ['nofile', 1024],
      ['nproc', 2048],
    ]);
  });

  it('names a limit that is not a number, and the variable to fix', async () => {
    const error = (await loadStack(file, { ...secrets, AUTOMAGIK_TELEMETRY_CLICKHOUSE_NPROC: 'lots' }).catch((e: unknown) => e)) as { code: string; message: string; hint: string };
    expect(error.code).toBe('E_CONFIG');
    expect(error.message).toBe(`${file}: services.clickhouse.ulimits.nproc is "lots": expected a whole number, or soft and hard ones (soft <= hard)`);
    expect(error.hint).toBe('Set AUTOMAGIK_TELEMETRY_CLICKHOUSE_NPROC to a number, e.g. 1024.');
  });
});
