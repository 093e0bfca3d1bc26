import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, cli } from './helpers/cli.js';
import { makeTestHome, type TestHome } from './helpers/home.js';

// The README's "first five minutes", run as written: each `$ ` line in a shell, in order, against a fresh home;
// the lines under it must each appear in what it printed (… stands for what differs from run to run).

interface Step {
  command: string;
  expected: string[];
}

async function walkthrough(): Promise<Step[]> {
  const readme = await readFile(join(import.meta.dirname, '..', 'README.md'), 'utf8');
  const block = /<!-- walkthrough:start -->\n```console\n([\s\S]*?)```\n<!-- walkthrough:end -->/.exec(readme)?.[1];
  if (!block) throw new Error('README.md has no walkthrough block');
  const steps: Step[] = [];
  for (const line of block.split('\n').filter((l) => l.trim() !== '')) {
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2), expected: [] });
    else steps.at(-1)?.expected.push(line);
  }
  return steps;
}

const squeeze = (s: string) => s.replace(/[\s─]+/g, ' ').trim();
const pattern = (expected: string) =>
  new RegExp(`^${squeeze(expected).split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);

let home: TestHome | undefined;
const scratch: string[] = [];
afterAll(async () => {
  if (home) {
    await cli(['stop'], home.env);
    await home.cleanup();
  }
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

describe('the README walkthrough', () => {
  it('prints what the README says, command after command, on a fresh home', async () => {
    const steps = await walkthrough();
    expect(steps.length).toBeGreaterThanOrEqual(6);
    home = await makeTestHome();
    // `automagik-telemetry` on PATH, as after `npm install -g .`.
    const bin = await mkdtemp(join(tmpdir(), 'amt-bin-'));
    scratch.push(bin);
    await writeFile(join(bin, 'automagik-telemetry'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    await chmod(join(bin, 'automagik-telemetry'), 0o755);
    for (const step of steps) {
      const result = await new Promise<{ code: number; output: string }>((resolve) => {
        const child = spawn('bash', ['-c', step.command], { env: { PATH: `${bin}:${process.env.PATH}`, HOME: home?.home, NO_COLOR: '1', ...home?.env } });
        let output = '';
        child.stdout.on('data', (d: Buffer) => (output += d.toString()));
        child.stderr.on('data', (d: Buffer) => (output += d.toString()));
        child.on('close', (code) => resolve({ code: code ?? -1, output }));
      });
      const lines = result.output.split('\n').map(squeeze);
      expect({ command: step.command, code: result.code }).toEqual({ command: step.command, code: 0 });
      for (const expected of step.expected) {
        expect(lines.some((l) => pattern(expected).test(l)), `${step.command}\nexpected a line like: ${expected}\ngot:\n${result.output}`).toBe(true);
      }
    }
  });
});
