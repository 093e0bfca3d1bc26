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
      auth: {
        required: true,
        roles: {
          ingest: { username: 'telemetry_ingest', password: undefined },
          reader: { username: 'telemetry_reader', password: undefined },
          admin: { username: 'telemetry', password: undefined },
        },
      },
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

  it('reads the admin password the seed way (CLICKHOUSE_USER/PASSWORD in .env), and says where each came from', async () => {
    await writeFile(join(home, '.env'), 'CLICKHOUSE_USER=ops\nCLICKHOUSE_PASSWORD="s3cret # not a comment"\nCLICKHOUSE_INGEST_PASSWORD=in\n');
    const config = await loadConfig({ flags: { home }, env: {} });
    expect(config.auth.roles.admin).toEqual({ username: 'ops', password: 's3cret # not a comment', source: 'CLICKHOUSE_PASSWORD in <home>/.env' });
    expect(config.auth.roles.ingest).toEqual({ username: 'telemetry_ingest', password: 'in', source: 'CLICKHOUSE_INGEST_PASSWORD in <home>/.env' });
    expect(config.auth.roles.reader.password).toBeUndefined();
  });

  it("lets an app's variables (what `env` prints) override the ingest credential, never the admin one", async () => {
    await writeFile(join(home, '.env'), 'CLICKHOUSE_PASSWORD=admin-pw\nCLICKHOUSE_INGEST_PASSWORD=in\n');
    const config = await loadConfig({
      flags: { home },
      env: { AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME: 'someone', AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD: 'other' },
    });
    expect(config.auth.roles.ingest).toEqual({ username: 'someone', password: 'other', source: 'the environment variable AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD' });
    expect(config.auth.roles.admin).toMatchObject({ username: 'telemetry', password: 'admin-pw' });
    const admin = await loadConfig({ flags: { home }, env: { AUTOMAGIK_TELEMETRY_ADMIN_PASSWORD: 'a2' } });
    expect(admin.auth.roles.admin.password).toBe('a2');
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
  it('writes a random password per role to <home>/.env with mode 0600, keeps other lines, and reuses them later', async () => {
    await writeFile(join(home, '.env'), '# mine\nAUTOMAGIK_TELEMETRY_OTLP_PORT=5001\n');
    const { config, generated } = await ensureCredentials(await loadConfig({ flags: { home }, env: {} }));
    expect(generated).toEqual(['ingest', 'reader', 'admin']);
    const passwords = Object.values(config.auth.roles).map((r) => r.password);
    for (const password of passwords) expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(new Set(passwords).size).toBe(3);
    const text = await readFile(join(home, '.env'), 'utf8');
    expect(text).toContain('# mine\nAUTOMAGIK_TELEMETRY_OTLP_PORT=5001\n');
    expect(text).toContain(`CLICKHOUSE_PASSWORD=${config.auth.roles.admin.password}`);
    expect(text).toContain(`CLICKHOUSE_INGEST_USER=telemetry_ingest\nCLICKHOUSE_INGEST_PASSWORD=${config.auth.roles.ingest.password}`);
    expect(text).toContain(`CLICKHOUSE_READER_USER=telemetry_reader\nCLICKHOUSE_READER_PASSWORD=${config.auth.roles.reader.password}`);
    expect((await stat(join(home, '.env'))).mode & 0o777).toBe(0o600);
    const again = await ensureCredentials(await loadConfig({ flags: { home }, env: {} }));
    expect(again.generated).toEqual([]);
    expect(again.config.auth.roles).toEqual(config.auth.roles);
  });

  it('upgrades a home of the first wave: keeps its admin password and adds the two new roles', async () => {
    await writeFile(join(home, '.env'), 'CLICKHOUSE_USER=telemetry\nCLICKHOUSE_PASSWORD=old-admin\n');
    const { config, generated } = await ensureCredentials(await loadConfig({ flags: { home }, env: {} }));
    expect(generated).toEqual(['ingest', 'reader']);
    expect(config.auth.roles.admin.password).toBe('old-admin');
    expect(parseDotenv(await readFile(join(home, '.env'), 'utf8'))).toMatchObject({
      CLICKHOUSE_PASSWORD: 'old-admin',
      CLICKHOUSE_INGEST_PASSWORD: config.auth.roles.ingest.password,
      CLICKHOUSE_READER_PASSWORD: config.auth.roles.reader.password,
    });
  });
});
