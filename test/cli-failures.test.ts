import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cli, type CliResult } from './helpers/cli.js';
import { makeTestHome, type TestHome } from './helpers/home.js';
import { startStack, type RunningStack } from './helpers/stack.js';

// Every failure is a message and an exit code: never a stack trace, never Node's own words.
const noCrash = (result: CliResult) => {
  expect(result.stderr).not.toMatch(/\n\s+at |node:internal|node:events|Unhandled 'error'|EPIPE|unexpected failure/);
};

let stack: RunningStack;
let stopped: TestHome;
const scratch: string[] = [];
beforeAll(async () => {
  stack = await startStack();
  stopped = await makeTestHome();
});
afterAll(async () => {
  await stack.stop();
  await stopped.cleanup();
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'amt-fail-'));
  scratch.push(dir);
  return dir;
}

/** Runs `automagik-telemetry <args> | <reader>` in bash with pipefail: the exit code is the CLI's. */
function piped(args: string, reader: string, env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', `set -o pipefail; "${process.execPath}" "${CLI}" ${args} | ${reader}`], { env: { PATH: process.env.PATH, NO_COLOR: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('a reader that goes away (| head)', () => {
  it('--help into a pipe closed at once ends quietly with exit 0', async () => {
    const result = await piped('--help', 'true', {});
    noCrash(result);
    expect(result.code).toBe(0);
  });

  it.each(['tsv', 'table', 'json'])('query with 200,000 rows as %s into head -2 prints two lines and exits 0', async (format) => {
    const result = await piped(`query "SELECT number FROM numbers(200000)" --format ${format}`, 'head -2', stack.home.env);
    noCrash(result);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n').filter(Boolean)).toHaveLength(2);
  });
});

describe('files that are not there, not files, or not readable', () => {
  it('restore names a missing backup and how to make one (exit 2)', async () => {
    const result = await cli(['restore', '/no/such/file.gz'], stack.home.env);
    noCrash(result);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('/no/such/file.gz does not exist (the backup to restore)');
    expect(result.stderr).toContain('automagik-telemetry backup');
  });

  it('restore of a folder says it is a folder', async () => {
    const dir = await tempDir();
    const result = await cli(['restore', dir], stack.home.env);
    noCrash(result);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${dir} is a folder, not a file`);
  });

  it('query -f names the missing file', async () => {
    const result = await cli(['query', '-f', '/no/such/report.sql'], stack.home.env);
    noCrash(result);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('/no/such/report.sql does not exist (the SQL to run, from -f)');
  });

  it('query -f of a file the user may not read says permission denied', async () => {
    const dir = await tempDir();
    await chmod(dir, 0o777);
    const file = join(dir, 'secret.sql');
    await writeFile(file, 'SELECT 1');
    await chmod(file, 0o000);
    const home = join(dir, 'home');
    await mkdir(home, { mode: 0o777 });
    await chmod(home, 0o777);
    // root reads everything: run the CLI as nobody (uid 65534) then.
    const asNobody = process.getuid?.() === 0;
    const result = await new Promise<CliResult>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'query', '-f', file, '--home', home], {
        env: { PATH: process.env.PATH, NO_COLOR: '1', HOME: home, AUTOMAGIK_TELEMETRY_ENGINE: 'embedded' },
        ...(asNobody ? { uid: 65534, gid: 65534 } : {}),
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
    noCrash(result);
    expect(result.stderr).toContain(`cannot read ${file} (the SQL to run, from -f): permission denied`);
    expect(result.code).toBe(2);
  });

  it('backup -o into a folder, or into a folder that does not exist, is refused before any work', async () => {
    const dir = await tempDir();
    const into = await cli(['backup', '-o', dir], stack.home.env);
    noCrash(into);
    expect(into.code).toBe(2);
    expect(into.stderr).toContain(`${dir} is a folder (the backup to write, from -o)`);
    const missing = await cli(['backup', '-o', join(dir, 'nope', 'x.gz')], stack.home.env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`${join(dir, 'nope')} is not a folder`);
  });
});

describe('a stack that is not running', () => {
  const commands: string[][] = [
    ['query', 'SELECT 1'],
    ['query-traces'],
    ['query-traces', '--follow'],
    ['query-stats'],
    ['send', '--event', 'x'],
    ['send', '--event', 'x', '--backend', 'clickhouse'],
    ['test'],
    ['backup', '-o', join(tmpdir(), 'amt-never-written.backup.gz')],
    ['schema', 'apply'],
    ['dashboard'],
    ['health'],
    ['status'],
  ];
  it.each(commands)('%s … exits 3 at once with the command that starts it', async (...args) => {
    const started = performance.now();
    const result = await cli(args, stopped.env);
    noCrash(result);
    expect(result.code).toBe(3);
    if (args[0] !== 'status' && args[0] !== 'health') expect(result.stderr).toContain('Start it with `automagik-telemetry start`');
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('send --stdin fails fast (no 60 s of retries) and reads nothing', async () => {
    const started = performance.now();
    const result = await cli(['send', '--stdin'], stopped.env, '{"event":"a"}\n{"event":"b"}\n');
    noCrash(result);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('the stack is not running: nothing answers at 127.0.0.1:');
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe('a password that does not match the stack', () => {
  it('from the environment: says which variable, which user and which role', async () => {
    const result = await cli(['query', 'SELECT 1'], { ...stack.home.env, AUTOMAGIK_TELEMETRY_ADMIN_PASSWORD: 'wrong' });
    noCrash(result);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the stack refused user "telemetry" (admin role) with the password from the environment variable AUTOMAGIK_TELEMETRY_ADMIN_PASSWORD');
    expect(result.stderr).toContain('Unset AUTOMAGIK_TELEMETRY_ADMIN_PASSWORD');
    const sent = await cli(['send', '--event', 'x', '--backend', 'clickhouse'], { ...stack.home.env, AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD: 'wrong' });
    expect(sent.code).toBe(1);
    expect(sent.stderr).toContain('the stack refused user "telemetry_ingest" (ingest role) with the password from the environment variable AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD');
  });

  it('from <home>/.env: names the key and the file, for query (admin) and for send --stdin (ingest)', async () => {
    const home = await makeTestHome();
    try {
      expect((await cli(['start'], home.env)).code).toBe(0);
      const envFile = join(home.home, '.env');
      const original = await readFile(envFile, 'utf8');
      await writeFile(envFile, original.replace(/^CLICKHOUSE_PASSWORD=.*$/m, 'CLICKHOUSE_PASSWORD=not-the-one').replace(/^CLICKHOUSE_INGEST_PASSWORD=.*$/m, 'CLICKHOUSE_INGEST_PASSWORD=nor-this'));
      const query = await cli(['query', 'SELECT 1'], home.env);
      expect(query.code).toBe(1);
      expect(query.stderr).toContain(`the stack refused user "telemetry" (admin role) with the password from CLICKHOUSE_PASSWORD in ${envFile}`);
      const sent = await cli(['send', '--stdin'], home.env, '{"event":"a"}\n');
      expect(sent.code).toBe(1);
      expect(sent.stderr).toContain(`(ingest role) with the password from CLICKHOUSE_INGEST_PASSWORD in ${envFile}`);
      await writeFile(envFile, original);
    } finally {
      await cli(['stop'], home.env);
      await home.cleanup();
    }
  });
});

describe('SQL the server cannot take as one statement', () => {
  it('two statements are refused with a clear reason before anything runs (exit 2)', async () => {
    const result = await cli(['query', 'SELECT 1; SELECT 2'], stack.home.env);
    noCrash(result);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('query runs one statement at a time; this SQL holds 2');
    expect(result.stderr).not.toContain('JSON');
  });

  it('a semicolon inside a string or a trailing one is still one statement', async () => {
    const result = await cli(['query', "SELECT 'a;b' AS s;", '--format', 'csv'], stack.home.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('"s"\n"a;b"\n');
  });

  it("a server error shows ClickHouse's code and name (exit 1)", async () => {
    const result = await cli(['query', 'SELEC 1'], stack.home.env);
    noCrash(result);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Code: 62\..*SYNTAX_ERROR/s);
  });
});
