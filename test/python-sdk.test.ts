import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The Python SDK's tests are pytest files (python/tests) that start the real embedded engine through the CLI in dist/;
// this file makes them part of `npm test`, and checks that the shared test vectors are what the TypeScript SDK does.

const root = join(import.meta.dirname, '..');

/** python3 with pytest, as .ci/run installs it (python3-pytest). Under CI=true its absence fails; elsewhere it skips loudly. */
function pytestAvailable(): boolean {
  const probe = spawnSync('python3', ['-m', 'pytest', '--version'], { encoding: 'utf8' });
  if (probe.status === 0) return true;
  const why = probe.error ? 'python3 is not installed' : 'python3 has no pytest';
  if (process.env.CI === 'true') throw new Error(`${why}: .ci/run must apt-get install python3-pytest`);
  console.warn(`\n!!! SKIPPING THE PYTHON SDK TESTS: ${why}; apt-get install python3-pytest to run them.\n`);
  return false;
}

function run(command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }, timeout: timeoutMs });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('one mapping, two languages', () => {
  it('test-vectors/sdk-vectors.json holds exactly what the TypeScript SDK makes of its event and error calls', async () => {
    const { code, output } = await run(process.execPath, ['test-vectors/generate.mjs', '--check'], 30_000);
    expect(output).toMatch(/matches the TypeScript SDK \(\d+ cases\)/);
    expect(code).toBe(0);
  });
});

describe.runIf(pytestAvailable())('the Python SDK', () => {
  it('passes its pytest suite against the real embedded engine (vectors, both backends, retries, outage, exit, opt-outs, threads)', async () => {
    const { code, output } = await run('python3', ['-m', 'pytest', 'python/tests', '-q', '-rs', '-p', 'no:cacheprovider'], 290_000);
    if (code !== 0) console.error(output);
    expect(output).toMatch(/\d+ passed/);
    expect(output).not.toMatch(/\d+ (failed|errors?)\b/);
    expect(code).toBe(0);
  }, 300_000);
});
