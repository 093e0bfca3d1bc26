import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followTraces } from '../src/query/traces.js';
import { CLI, cli } from './helpers/cli.js';
import { startStack, type RunningStack } from './helpers/stack.js';

// `query-traces --follow` is left running in a terminal for a long time: it must not accumulate listeners or memory.
const FOLLOW_SECONDS = Number(process.env.AMT_FOLLOW_SECONDS ?? 20);

let stack: RunningStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.stop());

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

describe('query-traces --follow left running', () => {
  it(`prints each new event once for ${FOLLOW_SECONDS} s, with no listener warning and bounded memory`, { timeout: (FOLLOW_SECONDS + 30) * 1000 }, async () => {
    const child = spawn(process.execPath, [CLI, 'query-traces', '--follow', '--project', 'followed', '--format', 'json'], {
      env: { PATH: process.env.PATH, NO_COLOR: '1', ...stack.home.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    await new Promise((r) => setTimeout(r, 2_000));
    const early = await rssKiB(child.pid as number);
    let sent = 0;
    const started = Date.now();
    while (Date.now() - started < FOLLOW_SECONDS * 1000) {
      const result = await cli(['send', '--event', `tick-${sent}`, '--project', 'followed', '--backend', 'clickhouse'], stack.home.env);
      expect(result.code).toBe(0);
      sent++;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    await new Promise((r) => setTimeout(r, 2_500)); // the follow reads rows once they are a second old
    const late = await rssKiB(child.pid as number);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).not.toContain('MaxListenersExceededWarning');
    expect(stderr).toBe('');
    const printed = stdout.trim().split('\n').map((l) => (JSON.parse(l) as { span_name: string }).span_name);
    expect(printed).toEqual(Array.from({ length: sent }, (_, i) => `tick-${i}`));
    // A listener or buffer kept per poll grows without end; a steady follow stays within a few MiB of where it began.
    expect(late - early).toBeLessThan(20 * 1024);
  });

  it('keeps at most one abort listener however many polls it makes', async () => {
    const abort = new AbortController();
    let most = 0;
    const connection = {
      url: stack.vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT ?? '',
      // query-traces reads as the reader role.
      ...stack.roles.reader,
      database: 'telemetry',
    };
    const watching = setInterval(() => (most = Math.max(most, getEventListeners(abort.signal, 'abort').length)), 5);
    const following = followTraces(connection, 'telemetry.traces', { project: 'nobody' }, { intervalMs: 5, signal: abort.signal, onRows: () => undefined });
    await new Promise((r) => setTimeout(r, 3_000));
    abort.abort();
    await following;
    clearInterval(watching);
    expect(most).toBe(1);
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
  });
});
