import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureCredentials, loadConfig } from '../src/config/index.js';
import { parseDotenv } from '../src/config/dotenv.js';

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'amt-config-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('configuration resolves flags > environment > <home>/.env > defaults', () => {
  it('uses the documented defaults when nothing is set', async () => {
    const config = await loadConfig({ flags: { home }, env: {} });
    expect(config).toMatchObject({
      engine: 'auto',
      host: '127.0.0.1',
      ports: { clickhouse: 8123, otlp: 4318, dashboard: 3000 },
      auth: { required: true, username: 'telemetry', password: undefined },
      database: 'telemetry',
    });
    expect(config.paths.dataDir).toBe(join(home, 'data'));
    expect(Object.isFrozen(config.ports)).toBe(true);
  });

  it('lets .env override defaults, the environment override .env, and flags override both', async () => {
    await writeFile(join(home, '.env'), 'AUTOMAGIK_TELEMETRY_OTLP_PORT=5001\nAUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT=5002\nAUTOMAGIK_TELEMETRY_DASHBOARD_PORT=5003\nAUTOMAGIK_TELEMETRY_OTLP_GRPC_PORT=5004\n');
    const config = await loadConfig({
      flags: { home, clickhousePort: '6002', otlpGrpcPort: '6004' },
      env: { AUTOMAGIK_TELEMETRY_OTLP_PORT: '7001', AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT: '7002' },
    });
    expect(config.ports).toEqual({ otlp: 7001, clickhouse: 6002, dashboard: 5003, otlpGrpc: 6004 });
    const fromDotenv = await loadConfig({ flags: { home } });
    expect(fromDotenv.ports.otlpGrpc).toBe(5004);
  });

  it('reads the home from AUTOMAGIK_TELEMETRY_HOME, relative to the working folder', async () => {
    const config = await loadConfig({ env: { AUTOMAGIK_TELEMETRY_HOME: 'stack' }, cwd: home });
    expect(config.home).toBe(join(home, 'stack'));
  });

  it('reads the password the seed way (CLICKHOUSE_PASSWORD in .env) and the SDK way (environment)', async () => {
    await writeFile(join(home, '.env'), 'CLICKHOUSE_USER=ops\nCLICKHOUSE_PASSWORD="s3cret # not a comment"\n');
    expect((await loadConfig({ flags: { home }, env: {} })).auth).toMatchObject({ username: 'ops', password: 's3cret # not a comment' });
    const fromEnv = await loadConfig({ flags: { home }, env: { AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD: 'other' } });
    expect(fromEnv.auth.password).toBe('other');
  });

  it('refuses two services on one port, naming both', async () => {
    await expect(loadConfig({ flags: { home, clickhousePort: 4318 }, env: {} })).rejects.toThrow('the clickhouse and otlp ports are both 4318');
  });

  it('names the file and line of a malformed .env line', async () => {
    await writeFile(join(home, '.env'), '# ok\nGOOD=1\nthis line is wrong\n');
    await expect(loadConfig({ flags: { home }, env: {} })).rejects.toThrow(`${join(home, '.env')}:3: expected KEY=VALUE`);
  });

  it('parses comments, export prefixes and quotes', () => {
    expect(parseDotenv("# c\nexport A=1\nB='two words'\nC=\"x\\ny\"\nD=plain # trailing\n")).toEqual({ A: '1', B: 'two words', C: 'x\ny', D: 'plain' });
  });
});

describe('first start generates credentials', () => {
  it('writes a random password to <home>/.env with mode 0600, keeps other lines, and reuses it later', async () => {
    await writeFile(join(home, '.env'), '# mine\nAUTOMAGIK_TELEMETRY_OTLP_PORT=5001\n');
    const config = await ensureCredentials(await loadConfig({ flags: { home }, env: {} }));
    expect(config.auth.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const text = await readFile(join(home, '.env'), 'utf8');
    expect(text).toContain('# mine\nAUTOMAGIK_TELEMETRY_OTLP_PORT=5001\n');
    expect(text).toContain(`CLICKHOUSE_PASSWORD=${config.auth.password}`);
    expect((await stat(join(home, '.env'))).mode & 0o777).toBe(0o600);
    const again = await ensureCredentials(await loadConfig({ flags: { home }, env: {} }));
    expect(again.auth.password).toBe(config.auth.password);
  });
});
