import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from './helpers/cli.js';
import { makeTestHome, type TestHome } from './helpers/home.js';

// Start-up cost is what a command imports: --help loads no command module, and a command loads only its own
// module and what it uses (never dockerode for the embedded engine). Recorded by a module loader hook.

let dir: string;
let home: TestHome;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'amt-lazy-'));
  await writeFile(
    join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function load(url, context, next) { appendFileSync(log, url + '\\n'); return next(url, context); }
`,
  );
  await writeFile(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url, { data: { log: process.env.AMT_LOAD_LOG } });\n`);
  home = await makeTestHome();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await home.cleanup();
});

async function loaded(args: string[], name: string): Promise<{ code: number; modules: string[] }> {
  const log = join(dir, `${name}.log`);
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--import', join(dir, 'register.mjs'), CLI, ...args], {
      env: { PATH: process.env.PATH, NO_COLOR: '1', AMT_LOAD_LOG: log, ...home.env },
      stdio: 'ignore',
    });
    child.on('close', (c) => resolve(c ?? -1));
  });
  const modules = (await readFile(log, 'utf8')).split('\n').filter((l) => l.startsWith('file:'));
  return { code, modules };
}

const ours = (modules: string[]) => modules.filter((m) => m.includes('/dist/src/')).map((m) => m.slice(m.indexOf('/dist/src/') + '/dist/src/'.length));

describe('what a command imports', () => {
  it('--help imports no command module, no engine, no dockerode and no spinner library', async () => {
    const { code, modules } = await loaded(['--help'], 'help');
    expect(code).toBe(0);
    expect(ours(modules).filter((m) => m.startsWith('cli/commands/') || m.startsWith('engine/'))).toEqual([]);
    expect(modules.filter((m) => /node_modules\/(dockerode|ora|protobufjs|chdb)\//.test(m))).toEqual([]);
    expect(ours(modules)).toContain('cli/main.js');
    expect(modules.some((m) => m.includes('node_modules/commander/'))).toBe(true); // the hook sees packages too
  });

  it('send imports its own module and the SDK, not the other commands, the engines or dockerode', async () => {
    const { code, modules } = await loaded(['send', '--event', 'x'], 'send');
    expect(code).toBe(3); // nothing runs in this home: the import list is the point here
    const commands = ours(modules).filter((m) => m.startsWith('cli/commands/'));
    expect(commands).toEqual(['cli/commands/send.js']);
    expect(ours(modules)).toContain('sdk/client.js');
    expect(ours(modules).filter((m) => m.startsWith('engine/docker/') || m.startsWith('engine/embedded/'))).toEqual([]);
    expect(modules.filter((m) => /node_modules\/(dockerode|ora)\//.test(m))).toEqual([]);
  });

  it('status with the embedded engine loads that engine, not dockerode', async () => {
    const { code, modules } = await loaded(['status'], 'status');
    expect(code).toBe(3);
    expect(ours(modules)).toContain('engine/embedded/index.js');
    expect(ours(modules).filter((m) => m.startsWith('engine/docker/'))).toEqual([]);
    expect(modules.filter((m) => m.includes('node_modules/dockerode/'))).toEqual([]);
  });
});
