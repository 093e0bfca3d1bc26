// The package as a host app meets it: the main entry is the SDK alone (its import graph holds no engine, Docker or
// CLI module, read from the files and watched at run time), ESM import and CommonJS require by name both work
// against the real engine, the engine API lives at automagik-telemetry/engine, and the CLI's bin still runs.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from './helpers/cli.js';
import { makeAppFolder, PACKAGE_ROOT, type AppFolder } from './helpers/sdk-app.js';
import { startStack, type RunningStack } from './helpers/stack.js';

const run = promisify(execFile);
const DIST = join(PACKAGE_ROOT, 'dist');
const FORBIDDEN_PACKAGES = ['dockerode', 'commander', 'chalk', 'ora', 'yaml', 'chdb', '@grpc/grpc-js', 'uplot'];
const FORBIDDEN_FOLDERS = ['src/engine/', 'src/cli/', 'src/dashboard/', 'src/query/', 'src/schema/', 'bin/'];

let stack: RunningStack;
let app: AppFolder;

beforeAll(async () => {
  stack = await startStack();
  app = await makeAppFolder();
});
afterAll(async () => {
  await app?.cleanup();
  await stack?.stop();
});

/** Every module the file imports, statically (`eager`) and through import() (`lazy`), followed through the package. */
function importGraph(entry: string): { eager: Set<string>; lazy: Set<string>; packages: { eager: Set<string>; lazy: Set<string> } } {
  const eager = new Set<string>();
  const lazy = new Set<string>();
  const packages = { eager: new Set<string>(), lazy: new Set<string>() };
  const visit = (file: string, isLazy: boolean) => {
    const seen = isLazy ? lazy : eager;
    if (seen.has(file) || (isLazy && eager.has(file))) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    const found = [
      ...[...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => [m[1], false] as const),
      ...[...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)].map((m) => [m[1], false] as const),
      ...[...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => [m[1], true] as const),
    ];
    for (const [specifier, dynamic] of found) {
      if (!specifier || specifier.startsWith('node:')) continue;
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier), isLazy || dynamic);
      else (isLazy || dynamic ? packages.lazy : packages.eager).add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] as string));
    }
  };
  visit(entry, false);
  return { eager, lazy, packages };
}

describe('the main entry', () => {
  it('imports the SDK alone: no engine, Docker, CLI or chDB module, and no package at all until the first send', () => {
    const graph = importGraph(join(DIST, 'src', 'index.js'));
    const files = [...graph.eager, ...graph.lazy].map((f) => relative(DIST, f));
    expect(files).toContain('src/sdk/client.js');
    expect(files.filter((f) => FORBIDDEN_FOLDERS.some((folder) => f.startsWith(folder)))).toEqual([]);
    expect([...graph.packages.eager]).toEqual([]);
    // Loaded by the export pipeline on the first send only.
    expect([...graph.packages.lazy]).toEqual(['protobufjs']);
  });

  it('loads no engine, Docker or CLI module at run time, from import to shutdown (module resolution watched)', async () => {
    const log = join(app.dir, 'resolved.log');
    await writeFile(join(app.dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';
      export async function resolve(specifier, context, next) { const r = await next(specifier, context); appendFileSync(${JSON.stringify(log)}, r.url + '\\n'); return r; }`);
    await writeFile(join(app.dir, 'register.mjs'), `import { register } from 'node:module'; register('./hooks.mjs', import.meta.url);`);
    const result = await app.run(
      `import { AutomagikTelemetry } from 'automagik-telemetry';
       const t = new AutomagikTelemetry({ projectName: 'graph' });
       t.trackEvent('loaded');
       console.log(JSON.stringify(await t.shutdown()));`,
      { ...stack.vars, NODE_OPTIONS: `--import ${join(app.dir, 'register.mjs')}` },
    );
    expect(JSON.parse(result.stdout)).toMatchObject({ sent: 1 });
    const urls = (await readFile(log, 'utf8')).trim().split('\n');
    expect(urls.some((u) => u.endsWith('/dist/src/sdk/client.js'))).toBe(true);
    const offending = urls.filter((u) => FORBIDDEN_FOLDERS.some((f) => u.includes(`/dist/${f}`)) || FORBIDDEN_PACKAGES.some((p) => u.includes(`/node_modules/${p}/`)));
    expect(offending).toEqual([]);
  });

  it('loads the exporters (and protobufjs) only once there is something to send', async () => {
    const log = join(app.dir, 'resolved-idle.log');
    await writeFile(join(app.dir, 'hooks-idle.mjs'), `import { appendFileSync } from 'node:fs';
      export async function resolve(specifier, context, next) { const r = await next(specifier, context); appendFileSync(${JSON.stringify(log)}, r.url + '\\n'); return r; }`);
    await writeFile(join(app.dir, 'register-idle.mjs'), `import { register } from 'node:module'; register('./hooks-idle.mjs', import.meta.url);`);
    const result = await app.run(
      `import { AutomagikTelemetry } from 'automagik-telemetry';
       const t = new AutomagikTelemetry({ projectName: 'idle', flushIntervalMs: 20 });
       await new Promise((r) => setTimeout(r, 300));
       await t.flush();
       console.log('idle done');`,
      { ...stack.vars, NODE_OPTIONS: `--import ${join(app.dir, 'register-idle.mjs')}` },
    );
    expect(result.stdout.trim()).toBe('idle done');
    const urls = (await readFile(log, 'utf8')).trim().split('\n');
    expect(urls.some((u) => u.endsWith('/dist/src/sdk/client.js'))).toBe(true);
    expect(urls.filter((u) => u.includes('/protobufjs/') || u.includes('/dist/src/sdk/export/otlp.js'))).toEqual([]);
  });
});

describe('an app that uses the package by name', () => {
  it('imports it as an ES module and its events are stored', async () => {
    const result = await app.run(
      `import { AutomagikTelemetry, TelemetryError } from 'automagik-telemetry';
       const t = new AutomagikTelemetry({ projectName: 'esm-app' });
       t.trackEvent('esm.one'); t.trackEvent('esm.two');
       console.log(JSON.stringify({ ...(await t.shutdown()), errorClass: typeof TelemetryError }));`,
      stack.vars,
    );
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toMatchObject({ sent: 2, failed: 0, errorClass: 'function' });
    expect(await stack.rows(`SELECT span_name FROM telemetry.traces WHERE project_name = 'esm-app' ORDER BY span_name`)).toEqual([{ span_name: 'esm.one' }, { span_name: 'esm.two' }]);
  });

  it('requires it from CommonJS (no warning) and its events are stored; the SDK is all require() loads', async () => {
    const result = await app.run(
      `const { AutomagikTelemetry } = require('automagik-telemetry');
       const t = new AutomagikTelemetry({ projectName: 'cjs-app', backend: 'clickhouse' });
       t.registerExitHandlers();
       t.trackEvent('cjs.one', { n: 1 });
       process.on('exit', () => {
         const loaded = Object.keys(require.cache).filter((f) => ${JSON.stringify(FORBIDDEN_PACKAGES)}.some((p) => f.includes('/node_modules/' + p + '/')));
         console.log(JSON.stringify({ loaded }));
       });`,
      stack.vars,
      'cjs',
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ loaded: [] });
    expect(await stack.rows(`SELECT span_name, attributes['n'] AS n FROM telemetry.traces WHERE project_name = 'cjs-app'`)).toEqual([{ span_name: 'cjs.one', n: '1' }]);
  });

  it('finds the engine API at automagik-telemetry/engine, from ESM and CommonJS', async () => {
    const esm = await app.run(
      `import * as engine from 'automagik-telemetry/engine';
       console.log(['loadConfig', 'selectEngine', 'startEmbeddedServer', 'applySchema', 'otlpToRows', 'AutomagikTelemetry'].filter((k) => typeof engine[k] !== 'function').join(',') || 'all there');`,
    );
    expect(esm.stdout.trim()).toBe('all there');
    const cjs = await app.run(`const { loadConfig } = require('automagik-telemetry/engine'); console.log(typeof loadConfig);`, {}, 'cjs');
    expect(cjs.stdout.trim()).toBe('function');
  });
});

describe('a TypeScript app', () => {
  it('type-checks against the package from CommonJS (.cts) and ESM (.mts) under module nodenext', { timeout: 180_000 }, async () => {
    await writeFile(
      join(app.dir, 'typed.cts'),
      `import { AutomagikTelemetry, type AutomagikTelemetryOptions } from 'automagik-telemetry';
       const options: AutomagikTelemetryOptions = { projectName: 'typed', scrub: 'hash', identify: 'anonymous', batchSize: 10 };
       const t = new AutomagikTelemetry(options);
       t.registerExitHandlers({ deadlineMs: 500 });
       const id: string | undefined = t.anonymousId;
       void t.shutdown().then((r) => console.log(r.sent, id));`,
    );
    await writeFile(
      join(app.dir, 'typed.mts'),
      `import { AutomagikTelemetry } from 'automagik-telemetry';
       import { loadConfig } from 'automagik-telemetry/engine';
       console.log(typeof loadConfig, new AutomagikTelemetry({ projectName: 'typed' }).enabled);`,
    );
    await writeFile(join(app.dir, 'typed-bad.mts'), `import { AutomagikTelemetry } from 'automagik-telemetry';\nnew AutomagikTelemetry({ projectName: 'typed', scrub: 'blur' });\n`);
    const tsconfig = (files: string[]) =>
      JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, typeRoots: [join(PACKAGE_ROOT, 'node_modules', '@types')] }, files });
    const tsc = join(PACKAGE_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await writeFile(join(app.dir, 'tsconfig.json'), tsconfig(['typed.cts', 'typed.mts', 'typed-bad.mts']));
    // One run (tsc is slow on a shared machine): the good files give no error, the bad one exactly its own.
    const output = await run(process.execPath, [tsc, '-p', app.dir], { cwd: app.dir }).then(() => '', (error: { stdout: string }) => error.stdout);
    const errors = output.split('\n').filter((line) => /error TS\d+/.test(line));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^typed-bad\.mts\(2,\d+\): error TS2322: Type '"blur"' is not assignable to type 'ScrubMode \| undefined'/);
  });
});

describe("the CLI's bin", () => {
  it('still runs from the package', async () => {
    const { stdout } = await run(process.execPath, [CLI, '--version']);
    expect(stdout.trim()).toBe((JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version);
    const status = await run(process.execPath, [CLI, 'status', '--json'], { env: { ...process.env, ...stack.home.env } });
    expect(JSON.parse(status.stdout)).toMatchObject({ running: true });
  });
});
