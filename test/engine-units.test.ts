import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../src/config/index.js';
import { portInUseError } from '../src/engine/ports.js';
import { clearRunState, liveRunState, readRunState, writeRunState } from '../src/engine/run-state.js';

describe('the run-state file, one module for both engines', () => {
  let dir: string;
  let config: Config;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'amt-runstate-'));
    config = await loadConfig({ env: { AUTOMAGIK_TELEMETRY_HOME: dir } });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const embedded = (pid: number) => ({
    engine: 'embedded' as const,
    pid,
    host: '127.0.0.1',
    ports: { clickhouse: 1, otlp: 2, otlpGrpc: 3, dashboard: 4 },
    startedAt: new Date().toISOString(),
    version: '0.0.0',
    schemaVersion: 2,
    authRequired: true,
    dataDir: join(dir, 'data'),
  });

  it("reads back what an engine wrote; an embedded record counts as running only while its process lives", async () => {
    await writeRunState(config, embedded(process.pid));
    expect(await liveRunState(config)).toMatchObject({ engine: 'embedded', pid: process.pid });
    // A pid no process has (beyond the kernel's default maximum).
    await writeRunState(config, embedded(2 ** 22 + 7));
    expect(await readRunState(config)).toMatchObject({ engine: 'embedded' });
    expect(await liveRunState(config)).toBeUndefined();
    await writeRunState(config, { engine: 'docker', project: 'p', startedAt: 'now' });
    expect(await liveRunState(config)).toEqual({ engine: 'docker', project: 'p', startedAt: 'now' });
    await clearRunState(config);
    expect(await readRunState(config)).toBeUndefined();
  });

  it('treats a file that is not a record as none', async () => {
    await writeFile(config.paths.stateFile, '{"engine": "embedded"}');
    expect(await readRunState(config)).toBeUndefined();
    await writeFile(config.paths.stateFile, 'not json');
    expect(await readRunState(config)).toBeUndefined();
  });
});

describe('the one port-in-use error of both engines', () => {
  it('names the port, the service, the address, the holder and the setting that moves it', () => {
    const byContainer = portInUseError({ port: 4318, host: '127.0.0.1', service: 'collector 4318', holder: { container: 'other-collector' }, setting: '--otlp-port <n>' });
    expect(byContainer.code).toBe('E_PORT_IN_USE');
    expect(byContainer.message).toBe('port 4318 (collector 4318) on 127.0.0.1 is already in use by container other-collector');
    expect(byContainer.hint).toBe('Stop what holds it, or choose another port: --otlp-port <n>.');
    const byProcess = portInUseError({ port: 8123, host: '::1', service: 'ClickHouse HTTP', holder: { pid: 42, command: 'nc -l 8123' }, setting: '--clickhouse-port <n>' });
    expect(byProcess.message).toBe('port 8123 (ClickHouse HTTP) on ::1 is already in use by process 42 (nc -l 8123)');
    expect(byProcess.details).toMatchObject({ port: 8123, pid: 42, command: 'nc -l 8123' });
    expect(portInUseError({ port: 1, host: 'h', service: 's', holder: undefined, setting: 'x' }).message).toBe('port 1 (s) on h is already in use');
  });
});
