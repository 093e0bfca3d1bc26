// Apps that use the SDK as a stranger's project would: a folder with node_modules/automagik-telemetry pointing at
// this package, an ESM or CommonJS file that imports it by name, and a HOME of its own.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PACKAGE_ROOT = join(import.meta.dirname, '..', '..');

export interface AppResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningApp {
  child: ChildProcess;
  /** Resolves when the app printed `line` on stdout. */
  waitFor(line: string): Promise<void>;
  done: Promise<AppResult>;
}

export interface AppFolder {
  dir: string;
  /** The app's user home: ~/.automagik, ~/.automagik-no-telemetry live here. */
  home: string;
  /** Starts `source` as app.mjs (ESM) or app.cjs (CommonJS) with `env` (plus PATH and HOME). */
  start(source: string, env?: NodeJS.ProcessEnv, kind?: 'mjs' | 'cjs'): Promise<RunningApp>;
  run(source: string, env?: NodeJS.ProcessEnv, kind?: 'mjs' | 'cjs'): Promise<AppResult>;
  cleanup(): Promise<void>;
}

export async function makeAppFolder(): Promise<AppFolder> {
  const dir = await mkdtemp(join(tmpdir(), 'amt-app-'));
  const home = join(dir, 'user-home');
  await mkdir(join(dir, 'node_modules'), { recursive: true });
  await mkdir(home);
  await symlink(PACKAGE_ROOT, join(dir, 'node_modules', 'automagik-telemetry'), 'dir');
  let n = 0;
  const start = async (source: string, env: NodeJS.ProcessEnv = {}, kind: 'mjs' | 'cjs' = 'mjs'): Promise<RunningApp> => {
    const file = join(dir, `app-${n++}.${kind}`);
    await writeFile(file, source);
    const child = spawn(process.execPath, [file], { cwd: dir, env: { PATH: process.env.PATH, HOME: home, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const watchers: Array<() => void> = [];
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      watchers.forEach((w) => w());
    });
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<AppResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
    const waitFor = (line: string) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (stdout.split('\n').includes(line)) resolve();
        };
        watchers.push(check);
        check();
        void done.then((r) => reject(new Error(`the app ended (${r.code ?? r.signal}) before printing ${line}: ${r.stderr}`)));
      });
    return { child, waitFor, done };
  };
  return {
    dir,
    home,
    start,
    run: async (source, env, kind) => (await start(source, env, kind)).done,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
