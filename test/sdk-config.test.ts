// Configuration that finds the stack: the README's SDK snippet, run as written, works after
// `eval "$(npx automagik-telemetry env)"` and without it (the credential read from <home>/.env, for both backends);
// with no credential anywhere, one onError report says what to set.

import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from './helpers/cli.js';
import { makeAppFolder, PACKAGE_ROOT, type AppFolder } from './helpers/sdk-app.js';
import { startStack, type RunningStack } from './helpers/stack.js';

let stack: RunningStack;
let app: AppFolder;
let snippet: string;
let commonJsSnippet: string;

beforeAll(async () => {
  stack = await startStack();
  app = await makeAppFolder();
  // `npx automagik-telemetry` finds the package's bin in the app's node_modules/.bin, as after `npm install`.
  await mkdir(join(app.dir, 'node_modules', '.bin'));
  await writeFile(join(app.dir, 'node_modules', '.bin', 'automagik-telemetry'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`, { mode: 0o755 });
  const readme = await readFile(join(PACKAGE_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## SDK\n'));
  [snippet = '', commonJsSnippet = ''] = [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  await writeFile(join(app.dir, 'snippet.mjs'), snippet);
  await writeFile(join(app.dir, 'snippet.cjs'), commonJsSnippet);
});
afterAll(async () => {
  await app?.cleanup();
  await stack?.stop();
});

/** A shell as the user has it after `start`: the stack's home and ports, nothing else from the stack. */
function shell(command: string, extra: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { cwd: app.dir, env: { PATH: process.env.PATH, HOME: app.home, ...stack.home.env, ...extra } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function stored(): Promise<number> {
  const [row] = await stack.rows<{ n: number }>(`SELECT count() AS n FROM telemetry.traces WHERE project_name = 'my-app' AND span_name = 'user.signup'`);
  return Number(row?.n ?? 0);
}

describe("the README's SDK snippet, run as written", () => {
  it('is the first code block of the SDK section, and imports the package by name', () => {
    expect(snippet).toContain("import { AutomagikTelemetry } from 'automagik-telemetry';");
    expect(snippet).toContain('await telemetry.shutdown()');
  });

  it('sends its event after eval "$(npx automagik-telemetry env)"', async () => {
    const before = await stored();
    // npx finds the local bin; offline and without the update notice, it never asks a registry.
    const result = await shell('eval "$(npx automagik-telemetry env)" && node snippet.mjs', { npm_config_offline: 'true', npm_config_update_notifier: 'false' });
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/sent: 1,\s+failed: 0,\s+pending: 0/);
    expect(await stored()).toBe(before + 1);
  });

  it.each(['otlp', 'clickhouse'])('sends its event without the eval, through %s, with the credential from <home>/.env', async (backend) => {
    const before = await stored();
    const result = await shell('node snippet.mjs', { AUTOMAGIK_TELEMETRY_BACKEND: backend });
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/sent: 1,\s+failed: 0,\s+pending: 0/);
    expect(await stored()).toBe(before + 1);
  });
});

describe("the README's CommonJS snippet, run as written", () => {
  it('requires the package and, with its exit handlers, delivers the event as the process ends', async () => {
    expect(commonJsSnippet).toContain("require('automagik-telemetry')");
    const count = async () => Number((await stack.rows<{ n: number }>(`SELECT count() AS n FROM telemetry.traces WHERE project_name = 'my-worker' AND span_name = 'job.run'`))[0]?.n ?? 0);
    const before = await count();
    const result = await shell('node snippet.cjs');
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(await count()).toBe(before + 1);
  });
});

describe('an SDK that finds no credential', () => {
  it.each(['otlp', 'clickhouse'])('through %s reports once, saying what to set, however many batches fail', async (backend) => {
    const emptyHome = join(app.dir, `no-stack-${backend}`);
    await mkdir(emptyHome);
    const result = await shell(
      `node --input-type=module -e "
        import { AutomagikTelemetry } from 'automagik-telemetry';
        const errors = [];
        const t = new AutomagikTelemetry({ projectName: 'no-credential', batchSize: 1, onError: (e) => errors.push({ code: e.code, message: e.message }) });
        for (let i = 0; i < 4; i++) t.trackEvent('e' + i);
        const r = await t.flush();
        console.log(JSON.stringify({ failed: r.failed, errors }));
      "`,
      { AUTOMAGIK_TELEMETRY_HOME: emptyHome, AUTOMAGIK_TELEMETRY_BACKEND: backend },
    );
    const out = JSON.parse(result.stdout) as { failed: number; errors: Array<{ code: string; message: string }> };
    expect(out.failed).toBe(4);
    expect(out.errors).toHaveLength(1);
    expect(out.errors[0]?.code).toBe(backend === 'otlp' ? 'E_OTLP' : 'E_CLICKHOUSE');
    expect(out.errors[0]?.message).toContain(`no password was given and ${emptyHome}/.env has none: set AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD`);
  });
});
