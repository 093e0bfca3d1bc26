import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cli } from './helpers/cli.js';
import { startStack, type RunningStack } from './helpers/stack.js';

let stack: RunningStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.stop());

interface SendRun {
  write(text: string): Promise<void>;
  end(): void;
  done: Promise<{ code: number; stdout: string; stderr: string }>;
}

/** `send --stdin --json` fed by the test as a producer would, line slices at a time. */
function sendStdin(args: string[], env: NodeJS.ProcessEnv = {}): SendRun {
  const child = spawn(process.execPath, [CLI, 'send', '--stdin', '--json', ...args], { env: { PATH: process.env.PATH, NO_COLOR: '1', ...stack.home.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return {
    write: async (text) => {
      if (!child.stdin.write(text)) await new Promise((r) => child.stdin.once('drain', r));
    },
    end: () => child.stdin.end(),
    done: new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))),
  };
}

const lines = (from: number, count: number, project: string) => Array.from({ length: count }, (_, k) => JSON.stringify({ event: 'acct', project, attributes: { i: from + k } })).join('\n') + '\n';

async function stored(project: string): Promise<{ n: number; distinct: number }> {
  const [row] = await stack.rows<{ n: number; distinct: number }>(
    "SELECT count() AS n, uniqExact(attributes['i']) AS distinct FROM telemetry.traces WHERE project_name = {p:String}",
    { p: project },
  );
  return row ?? { n: -1, distinct: -1 };
}

/** What the proxy does with the n-th INSERT it sees (0-based); undefined relays it untouched. */
type Fault = 'stored-then-reset' | 'refused-502' | 'stored-then-500' | 'stored-after-timeout';

/**
 * A loopback HTTP proxy in front of the engine's ClickHouse port that breaks chosen requests the ways a network and a
 * server do: the answer lost after the rows were stored, a 502 before anything was stored, a 500 after storing, an
 * answer slower than the client's timeout. Every outcome is unknown to the client; only the token makes a retry safe.
 */
async function lossyProxy(target: string, faults: Map<number, Fault>): Promise<{ url: string; seen: Array<{ token: string; fault: Fault | undefined }>; close(): Promise<void> }> {
  const seen: Array<{ token: string; fault: Fault | undefined }> = [];
  const upstream = new URL(target);
  const forward = (req: IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      const headers = { ...req.headers, host: upstream.host, 'content-length': String(body.length) };
      const out = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      });
      out.on('error', reject);
      out.end(body);
    });
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://x');
    // An INSERT names its token; an OTLP export request is known by its bytes (the receiver's dedup key).
    const insert = /^\s*INSERT/i.test(url.searchParams.get('query') ?? '') || url.pathname.startsWith('/v1/');
    const fault = insert ? faults.get(seen.length) : undefined;
    if (insert) seen.push({ token: url.searchParams.get('insert_deduplication_token') ?? createHash('sha256').update(body).digest('hex'), fault });
    if (fault === 'refused-502') {
      res.writeHead(502).end('bad gateway');
      return;
    }
    const answer = await forward(req, body);
    if (fault === 'stored-then-reset') {
      req.socket.destroy();
      return;
    }
    if (fault === 'stored-then-500') {
      res.writeHead(500).end('Code: 999. DB::Exception: the answer was lost on the way. (UNKNOWN_EXCEPTION)');
      return;
    }
    if (fault === 'stored-after-timeout') await new Promise((r) => setTimeout(r, 1_500));
    res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe.each(['clickhouse', 'otlp'])('send --stdin --backend %s: "sent" is what the store holds', (backend) => {
  it('when answers are lost, refused or late, retries each batch under its token and stores every event exactly once', async () => {
    const project = `acct-lossy-${backend}`;
    const faults = new Map<number, Fault>([
      [1, 'stored-then-reset'],
      [4, 'refused-502'],
      [7, 'stored-then-500'],
      [10, 'stored-after-timeout'],
    ]);
    const target = backend === 'clickhouse' ? (stack.vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT ?? '') : new URL(stack.vars.AUTOMAGIK_TELEMETRY_ENDPOINT ?? '').origin;
    const proxy = await lossyProxy(target, faults);
    try {
      const through = backend === 'clickhouse' ? { AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT: proxy.url } : { AUTOMAGIK_TELEMETRY_ENDPOINT: `${proxy.url}/v1/traces` };
      const run = sendStdin(['--backend', backend, '--project', project, '--batch-size', '1000'], { ...through, AUTOMAGIK_TELEMETRY_TIMEOUT_MS: '1000' });
      await run.write(lines(0, 20_000, project));
      run.end();
      const { code, stdout, stderr } = await run.done;
      expect(code, `${stderr}${stdout}`).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ read: 20_000, sent: 20_000, failed: 0, unconfirmed: 0, rejected: 0 });
      expect(await stored(project)).toEqual({ n: 20_000, distinct: 20_000 });
      // Every faulted request was tried again, under the same token.
      for (const [index, fault] of faults) {
        const token = proxy.seen[index]?.token ?? '';
        expect(token, fault).not.toBe('');
        expect(proxy.seen.filter((s) => s.token === token).length, fault).toBeGreaterThanOrEqual(2);
      }
      // 20 batches, each token sent until acknowledged once: distinct tokens = batches.
      expect(new Set(proxy.seen.map((s) => s.token)).size).toBe(20);
    } finally {
      await proxy.close();
    }
  });

  it('when the engine is killed with SIGKILL mid-send and restarted, reports as sent exactly what the store holds', async () => {
    const project = `acct-kill9-${backend}`;
    const run = sendStdin(['--backend', backend, '--project', project, '--batch-size', '2000']);
    const pid = async () => (JSON.parse(await readFile(join(stack.home.home, 'run', 'engine.json'), 'utf8')) as { pid: number }).pid;
    for (let slice = 0; slice < 20; slice++) {
      await run.write(lines(slice * 5_000, 5_000, project));
      if (slice === 8) {
        process.kill(await pid(), 'SIGKILL');
        // Down long enough that batches in flight meet refused connections and back off.
        await new Promise((r) => setTimeout(r, 1_500));
        const restarted = await cli(['start'], stack.home.env);
        expect(restarted.code, restarted.stderr).toBe(0);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    run.end();
    const { code, stdout, stderr } = await run.done;
    const summary = JSON.parse(stdout) as { sent: number; failed: number; unconfirmed: number };
    const held = await stored(project);
    expect(held.n).toBe(held.distinct);
    expect(held.n).toBe(summary.sent);
    expect(summary, stderr).toMatchObject({ read: 100_000, sent: 100_000, failed: 0, unconfirmed: 0 });
    expect(code).toBe(0);
  });
});
