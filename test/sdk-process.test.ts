import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestHome } from './helpers/home.js';
import { startStack, type RunningStack } from './helpers/stack.js';
import { freePort } from './helpers/ports.js';

const entry = join(import.meta.dirname, '..', 'dist', 'src', 'index.js');
let stack: RunningStack;
let home: TestHome;
let vars: Record<string, string>;

beforeAll(async () => {
  stack = await startStack();
  ({ home, vars } = stack);
});
afterAll(() => stack.stop());

/** Runs an app script (ESM) that imports the built package, with the stack's variables in its environment. */
async function runApp(source: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = join(home.home, `app-${Math.random().toString(36).slice(2)}.mjs`);
  await writeFile(file, `import { AutomagikTelemetry } from ${JSON.stringify(entry)};\n${source}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { env: { PATH: process.env.PATH, HOME: home.home, ...vars, ...extraEnv } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function count(project: string): Promise<number> {
  return stack.rows<{ n: number }>('SELECT count() AS n FROM telemetry.traces WHERE project_name = {p:String}', { p: project }).then((rows) => rows[0]?.n ?? 0);
}

describe('an app using the SDK configured only by environment variables', () => {
  it('keeps no timer alive: a short script exits on its own, and registerExitHandlers sends its last events first', async () => {
    const result = await runApp(`
      const t = new AutomagikTelemetry({ projectName: 'exit-handlers', backend: 'clickhouse' });
      t.registerExitHandlers();
      for (let i = 0; i < 3; i++) t.trackEvent('last.words', { i });
    `);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(await count('exit-handlers')).toBe(3);
  });

  it('writes "Flushed N rows to ClickHouse in X ms" under DEBUG=automagik:*', async () => {
    const result = await runApp(
      `
      const t = new AutomagikTelemetry({ projectName: 'debug-log', backend: 'clickhouse' });
      t.trackEvent('a'); t.trackEvent('b');
      await t.shutdown();
    `,
      { DEBUG: 'automagik:*' },
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^automagik:sdk Flushed 2 rows to ClickHouse in \d+ ms$/m);
  });

  it('does not crash, and leaves no unhandled rejection, when the store is down', async () => {
    const port = await freePort();
    const result = await runApp(
      `
      process.on('unhandledRejection', (e) => { console.log('UNHANDLED', e); process.exitCode = 9; });
      const errors = [];
      const t = new AutomagikTelemetry({ projectName: 'down', backend: 'otlp', maxRetries: 1, timeoutMs: 300, onError: (e) => errors.push(e.message) });
      for (let i = 0; i < 5; i++) t.trackEvent('lost');
      const r = await t.shutdown();
      console.log(JSON.stringify({ r, stats: t.stats(), errors }));
    `,
      { AUTOMAGIK_TELEMETRY_ENDPOINT: `http://127.0.0.1:${port}/v1/traces` },
    );
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout) as { r: { sent: number; pending: number }; stats: { dropped: number }; errors: string[] };
    expect(out.r).toMatchObject({ sent: 0, pending: 5 });
    expect(out.stats.dropped).toBe(5);
    expect(out.errors[0]).toBe(`cannot reach http://127.0.0.1:${port}/v1/traces: ECONNREFUSED`);
    expect(out.errors.at(-1)).toMatch(/^shutdown left 5 event\(s\) unsent/);
  });
});
