import { describe, expect, it } from 'vitest';
import { inContext, refusedAddress } from '../src/cli/failures.js';
import { splitStatements } from '../src/cli/statements.js';
import { renderTable } from '../src/cli/table.js';
import { COMMANDS, commandName } from '../src/cli/commands.js';
import { loadConfig } from '../src/config/index.js';
import { differences, rememberedFlags, type RememberedStack } from '../src/engine/stack-file.js';

// The pure parts under the process tests: fast, and pinned on their edge cases.

describe('splitStatements', () => {
  it.each([
    ['SELECT 1', ['SELECT 1']],
    ['SELECT 1;', ['SELECT 1']],
    ['  SELECT 1 ;  \n', ['SELECT 1']],
    ['SELECT 1; SELECT 2', ['SELECT 1', 'SELECT 2']],
    ["SELECT 'a;b'", ["SELECT 'a;b'"]],
    ["SELECT 'it\\'s; fine'", ["SELECT 'it\\'s; fine'"]],
    ['SELECT "x;y" FROM t', ['SELECT "x;y" FROM t']],
    ['SELECT `a;b` FROM t', ['SELECT `a;b` FROM t']],
    ['SELECT 1 -- trailing; comment', ['SELECT 1 -- trailing; comment']],
    ['SELECT 1; -- only a comment after', ['SELECT 1']],
    ['/* a; b */ SELECT 1', ['/* a; b */ SELECT 1']],
    [';;', []],
    ['', []],
  ])('%j -> %j', (sql, expected) => {
    expect(splitStatements(sql)).toEqual(expected);
  });
});

describe('renderTable', () => {
  it('sizes 200,000 rows without overflowing the call stack', () => {
    const rows = Array.from({ length: 200_000 }, (_, i) => [i]);
    const text = renderTable(['number'], rows, 80);
    expect(text.split('\n')).toHaveLength(200_002);
    expect(text.split('\n')[1]).toBe('──────');
  });
});

describe('the command table', () => {
  it('names every command once, each with a loader', () => {
    const names = COMMANDS.map(commandName);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['start', 'status', 'send', 'query', 'query-traces', 'restore', 'schema']));
  });

  it('each module registers the command its entry names', async () => {
    const { Command } = await import('commander');
    for (const entry of COMMANDS) {
      const program = new Command();
      (await entry.load()).register(program, { ui: undefined as never, run: async () => undefined });
      expect(program.commands.map((c) => c.name())).toContain(commandName(entry));
    }
  });
});

describe('rememberedFlags', () => {
  const stack: RememberedStack = {
    engine: 'embedded',
    host: '127.0.0.1',
    ports: { clickhouse: 18123, otlp: 14318, otlpGrpc: 14317, dashboard: 13000 },
    database: 'events',
    authRequired: false,
    recordedAt: '2026-11-26T00:00:00Z',
  };

  it('fills what neither flags nor variables set', () => {
    expect(rememberedFlags(stack, {}, {})).toEqual({ engine: 'embedded', host: '127.0.0.1', clickhousePort: '18123', otlpPort: '14318', otlpGrpcPort: '14317', dashboardPort: '13000', database: 'events', auth: false });
  });

  it('gives way to a flag and to a variable, and an empty variable counts as unset', () => {
    const flags = rememberedFlags(stack, { clickhousePort: '9000' }, { AUTOMAGIK_TELEMETRY_OTLP_PORT: '4318', AUTOMAGIK_TELEMETRY_HOST: '' });
    expect(flags).toMatchObject({ clickhousePort: '9000', host: '127.0.0.1', dashboardPort: '13000' });
    expect(flags.otlpPort).toBeUndefined();
  });

  it('leaves a remembered --no-auth out when asked (start)', () => {
    expect(rememberedFlags(stack, {}, {}, { auth: false }).auth).toBeUndefined();
  });

  it('feeds loadConfig: the remembered database and ports win over .env and defaults', async () => {
    const config = await loadConfig({ flags: rememberedFlags(stack, { home: '/nonexistent-home-for-test' }, {}), env: {} });
    expect(config.ports).toEqual(stack.ports);
    expect(config.database).toBe('events');
    expect(config.auth.required).toBe(false);
  });

  it('says where a command differs from the stack, and where the difference came from', async () => {
    const flags = { home: '/nonexistent-home-for-test', clickhousePort: '9000' };
    const env = { AUTOMAGIK_TELEMETRY_DASHBOARD_PORT: '3001' };
    const config = await loadConfig({ flags: rememberedFlags(stack, flags, env), env });
    expect(differences(stack, config, flags, env)).toEqual([
      "ClickHouse port 9000 (--clickhouse-port), the running stack's is 18123",
      "dashboard port 3001 (AUTOMAGIK_TELEMETRY_DASHBOARD_PORT), the running stack's is 13000",
    ]);
  });
});

describe('refusedAddress', () => {
  it('finds a refused connection however deep the cause, and nothing else', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED', address: '127.0.0.1', port: 8123 });
    expect(refusedAddress(new TypeError('fetch failed', { cause: refused }))).toBe('127.0.0.1:8123');
    expect(refusedAddress(new Error('cannot reach http://127.0.0.1:4318/v1/traces: ECONNREFUSED'))).toBe('http://127.0.0.1:4318/v1/traces');
    expect(refusedAddress(new Error('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }) }))).toBeUndefined();
  });
});

describe('inContext', () => {
  const stack = { config: { ports: { clickhouse: 8123, otlp: 4318, dashboard: 3000 } }, startCommand: 'automagik-telemetry start', ui: { io: { env: {} } } } as never;
  const refusedAt = (port: number) => new TypeError('fetch failed', { cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED', address: '127.0.0.1', port }) });

  it("calls a refusal on the stack's own port 'not running', with the command that starts it", async () => {
    const error = (await inContext(refusedAt(4318), stack)) as { code: string; message: string; hint: string };
    expect(error).toMatchObject({ code: 'E_ENGINE_NOT_RUNNING', message: 'the stack is not running: nothing answers at 127.0.0.1:4318', hint: 'Start it with `automagik-telemetry start`.' });
  });

  it('leaves a refusal elsewhere (a Docker socket on TCP) as it is', async () => {
    const original = refusedAt(2375);
    expect(await inContext(original, stack)).toBe(original);
  });
});
