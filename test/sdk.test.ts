import { execFile } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutomagikTelemetry, type AutomagikTelemetryOptions } from '../src/index.js';
import type { Config } from '../src/config/index.js';
import { startEmbeddedServer, type RunningEmbeddedServer } from '../src/engine/embedded/server.js';
import { configFor, makeTestHome, type TestHome } from './helpers/home.js';
import { freePort } from './helpers/ports.js';
import { startProxy } from './helpers/proxy.js';
import { toolAvailable } from './helpers/tools.js';
import { basicAuthorization } from '../src/clickhouse/auth-header.js';

let home: TestHome;
let config: Config;
let server: RunningEmbeddedServer;
let ch: string;
let otlp: string;

beforeAll(async () => {
  home = await makeTestHome();
  config = await configFor(home);
  server = await startEmbeddedServer(config);
  ch = `http://127.0.0.1:${config.ports.clickhouse}`;
  otlp = `http://127.0.0.1:${config.ports.otlp}/v1/traces`;
});
afterAll(async () => {
  await server?.close();
  await home?.cleanup();
});

function client(options: AutomagikTelemetryOptions, errors: Error[] = []): AutomagikTelemetry {
  return new AutomagikTelemetry(
    {
      version: '2.0.0',
      environment: 'test',
      endpoint: otlp,
      clickhouseEndpoint: ch,
      clickhousePassword: config.auth.roles.admin.password,
      flushIntervalMs: 60_000,
      onError: (e) => errors.push(e),
      ...options,
    },
    {},
  );
}

async function rows<T = Record<string, unknown>>(where: string): Promise<T[]> {
  const res = await fetch(`${ch}/?default_format=JSONEachRow`, {
    method: 'POST',
    body: `SELECT span_name, status_code, status_message, duration_ms, project_name, project_version, environment, service_name, attributes FROM telemetry.traces WHERE ${where} ORDER BY timestamp, span_name`,
    headers: { Authorization: basicAuthorization({ username: 'telemetry', password: config.auth.roles.admin.password ?? '' }) },
  });
  const text = await res.text();
  if (!res.ok) throw new Error(text);
  return text.trim() === '' ? [] : text.trim().split('\n').map((l) => JSON.parse(l) as T);
}

describe.each([
  ['clickhouse', {}],
  ['otlp', { otlpProtocol: 'protobuf' as const }],
  ['otlp', { otlpProtocol: 'json' as const }],
] as const)('an app tracking events through the %s backend %o', (backend, extra) => {
  const project = `sdk-${backend}-${'otlpProtocol' in extra ? extra.otlpProtocol : 'direct'}`;

  it('stores each event once with project, version, environment, status, duration and attributes', async () => {
    const errors: Error[] = [];
    const t = client({ projectName: project, backend, ...extra }, errors);
    t.trackEvent('user.signup', { plan: 'pro', seats: 3, trial: true, tags: ['a', 'b'] }, { durationMs: 12 });
    t.trackEvent('payment.failed', { amount: 9.5 }, { status: 'error', statusMessage: 'card declined', durationMs: 30 });
    await t.trackError(new TypeError('boom'));
    const result = await t.flush();
    expect(errors).toEqual([]);
    expect(result).toMatchObject({ sent: 3, failed: 0, pending: 0 });
    const stored = await rows(`project_name = '${project}'`);
    expect(stored.map((r) => r.span_name).sort()).toEqual(['error', 'payment.failed', 'user.signup']);
    expect(stored.find((r) => r.span_name === 'user.signup')).toMatchObject({
      status_code: 'OK',
      duration_ms: 12,
      project_version: '2.0.0',
      environment: 'test',
      service_name: project,
      attributes: expect.objectContaining({ plan: 'pro', seats: '3', trial: 'true', tags: '["a","b"]' }),
    });
    expect(stored.find((r) => r.span_name === 'payment.failed')).toMatchObject({ status_code: 'ERROR', status_message: 'card declined', duration_ms: 30 });
    expect(stored.find((r) => r.span_name === 'error')).toMatchObject({ status_code: 'ERROR', attributes: expect.objectContaining({ 'exception.type': 'TypeError', 'exception.message': 'boom' }) });
    expect(t.stats()).toMatchObject({ queued: 0, sent: 3, dropped: 0, failed: 0 });
    await t.shutdown();
  });
});

describe('the span() helper', () => {
  it('times a function, records OK, and returns its value; records ERROR and rethrows on throw', async () => {
    const t = client({ projectName: 'sdk-span', backend: 'clickhouse' });
    expect(await t.span('work', async () => {
      await new Promise((r) => setTimeout(r, 40));
      return 7;
    })).toBe(7);
    await expect(t.span('broken', async () => Promise.reject(new Error('nope')))).rejects.toThrow('nope');
    await t.flush();
    const stored = await rows<{ span_name: string; status_code: string; duration_ms: number; status_message: string }>("project_name = 'sdk-span'");
    const work = stored.find((r) => r.span_name === 'work');
    expect(work?.status_code).toBe('OK');
    expect(work?.duration_ms).toBeGreaterThanOrEqual(39);
    expect(stored.find((r) => r.span_name === 'broken')).toMatchObject({ status_code: 'ERROR', status_message: 'nope' });
    await t.shutdown();
  });
});

describe('an SDK that must never hurt its host', () => {
  it('reports a wrong password as "authentication failed" naming user and endpoint, without retrying', async () => {
    for (const backend of ['clickhouse', 'otlp'] as const) {
      const errors: Error[] = [];
      const t = client({ projectName: 'sdk-auth', backend, clickhousePassword: 'wrong' }, errors);
      t.trackEvent('x');
      const result = await t.flush();
      expect(result.sent).toBe(0);
      expect(result.failed).toBe(1);
      const target = backend === 'clickhouse' ? ch : otlp;
      expect(errors[0]?.message).toContain(`authentication failed for user "telemetry_ingest" at ${target}`);
      expect(t.stats().retried).toBe(0);
    }
    expect(await rows("project_name = 'sdk-auth'")).toEqual([]);
  });

  it('skips bad arguments with an onError report instead of throwing', async () => {
    const errors: Error[] = [];
    const t = client({ projectName: 'sdk-args', backend: 'clickhouse' }, errors);
    expect(() => t.trackEvent('', {})).not.toThrow();
    expect(() => t.trackEvent('x', {}, { durationMs: -1 })).not.toThrow();
    expect(() => t.trackEvent('x', {}, { timestamp: 'not a date' })).not.toThrow();
    expect(errors.map((e) => e.message)).toEqual([
      'trackEvent(""): event name must be a non-empty string',
      'trackEvent("x"): durationMs must be a number >= 0, got -1',
      'trackEvent("x"): timestamp "not a date" is not a date',
    ]);
    expect(t.stats().queued).toBe(0);
  });

  it('turns a misconfiguration into a disabled client and an onError report', async () => {
    const errors: Error[] = [];
    const t = new AutomagikTelemetry({ backend: 'kafka' as 'otlp', projectName: 'x', onError: (e) => errors.push(e) }, {});
    expect(t.enabled).toBe(false);
    t.trackEvent('ignored');
    expect(await t.flush()).toMatchObject({ sent: 0 });
    expect(errors[0]?.message).toBe("backend must be 'otlp' or 'clickhouse', got \"kafka\"");
  });

  it('buffers up to its bound while the store is down, counts what it drops, and delivers the rest once the store is back', async () => {
    const port = await freePort();
    const errors: Error[] = [];
    const t = client({ projectName: 'sdk-down', backend: 'clickhouse', clickhouseEndpoint: `http://127.0.0.1:${port}`, maxQueueSize: 50, clickhouseBatchSize: 10, maxRetries: 1, timeoutMs: 500 }, errors);
    const lag: number[] = [];
    const probe = setInterval(() => lag.push(Date.now()), 10);
    for (let i = 0; i < 80; i++) t.trackEvent('queued', { i });
    const first = await t.flush();
    clearInterval(probe);
    expect(first.sent).toBe(0);
    expect(first.pending).toBe(50);
    expect(t.stats()).toMatchObject({ queued: 50, dropped: 30 });
    expect(t.stats().retried).toBeGreaterThan(0);
    expect(errors[0]?.message).toBe(`cannot reach http://127.0.0.1:${port}: ECONNREFUSED`);
    // The store comes back on that port (a relay to the real engine).
    const relay = await import('node:http').then(
      (http) =>
        new Promise<import('node:http').Server>((resolve) => {
          const s = http.createServer(async (req, res) => {
            const chunks: Buffer[] = [];
            for await (const c of req) chunks.push(c as Buffer);
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
            const up = await fetch(`${ch}${req.url}`, { method: 'POST', headers, body: Buffer.concat(chunks) });
            res.writeHead(up.status);
            res.end(Buffer.from(await up.arrayBuffer()));
          });
          s.listen(port, '127.0.0.1', () => resolve(s));
        }),
    );
    const second = await t.flush();
    relay.closeAllConnections();
    relay.close();
    expect(second).toMatchObject({ sent: 50, pending: 0 });
    const stored = await rows<{ attributes: { i: string } }>("project_name = 'sdk-down'");
    const kept = new Set(stored.map((r) => Number(r.attributes.i)));
    expect(kept.size).toBe(50);
    // Drops take the oldest queued events: the newest are all there (batches already in flight are never dropped).
    for (let i = 50; i < 80; i++) expect(kept.has(i)).toBe(true);
  });

  it.each([500, 503, 429])('retries a batch the server stored but answered %i to, and the table holds it once', async (status) => {
    const proxy = await startProxy(ch, (_req, index) => (index === 0 ? { status, body: 'Code: 999. DB::Exception: injected', forwardFirst: true } : undefined));
    const project = `sdk-ch-${status}`;
    const t = client({ projectName: project, backend: 'clickhouse', clickhouseEndpoint: proxy.url });
    for (let i = 0; i < 5; i++) t.trackEvent('once', { i });
    const result = await t.flush();
    await proxy.close();
    expect(proxy.requests).toHaveLength(2);
    expect(t.stats().retried).toBe(1);
    expect(result.sent).toBe(5);
    expect(await rows(`project_name = '${project}'`)).toHaveLength(5);
  });

  it('does not retry a 400: the batch is counted as failed and reported', async () => {
    const proxy = await startProxy(ch, () => ({ status: 400, body: 'Code: 27. DB::Exception: Cannot parse input. (CANNOT_PARSE_INPUT_ASSERTION_FAILED)' }));
    const errors: Error[] = [];
    const t = client({ projectName: 'sdk-400', backend: 'clickhouse', clickhouseEndpoint: proxy.url }, errors);
    t.trackEvent('refused');
    const result = await t.flush();
    await proxy.close();
    expect(proxy.requests).toHaveLength(1);
    expect(result).toMatchObject({ sent: 0, failed: 1, pending: 0 });
    expect(errors[0]?.message).toContain('answered HTTP 400: Code: 27. DB::Exception: Cannot parse input');
  });

  it('honours Retry-After on OTLP 503 and delivers on the next attempt', async () => {
    const proxy = await startProxy(otlp.replace('/v1/traces', ''), (_req, index) => (index === 0 ? { status: 503, headers: { 'Retry-After': '1' } } : undefined));
    const t = client({ projectName: 'sdk-503', backend: 'otlp', endpoint: `${proxy.url}/v1/traces` });
    t.trackEvent('later');
    const started = Date.now();
    const result = await t.flush();
    await proxy.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(result.sent).toBe(1);
    expect(await rows("project_name = 'sdk-503'")).toHaveLength(1);
  });
});

describe.skipIf(!toolAvailable('protoc', 'protobuf-compiler'))('the bytes the OTLP backend sends', () => {
  it('are an ExportTraceServiceRequest that protoc --decode_raw reads independently', async () => {
    const proxy = await startProxy(undefined);
    const t = client({ projectName: 'raw-check', backend: 'otlp', endpoint: `${proxy.url}/v1/traces` });
    t.trackEvent('decoded.by.protoc', { k: 'v' });
    await t.flush();
    await proxy.close();
    const request = proxy.requests[0];
    expect(request?.headers['content-type']).toBe('application/x-protobuf');
    expect(request?.headers['content-encoding']).toBe('gzip');
    const raw = gunzipSync(request?.body ?? Buffer.alloc(0));
    const decoded = await new Promise<string>((resolve, reject) => {
      const child = execFile('protoc', ['--decode_raw'], (error, stdout, stderr) => {
        if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') reject(new Error('protoc is missing: apt-get install -y protobuf-compiler (.ci/run installs it)'));
        else if (error) reject(new Error(stderr));
        else resolve(stdout);
      });
      child.stdin?.end(raw);
    });
    // resource_spans(1) > resource(1) > attributes(1) > key(1) / value(2) > string_value(1); scope_spans(2) > spans(2) > name(5)
    expect(decoded).toMatch(/1 \{\s+1 \{\s+1 \{\s+1: "service.name"/);
    expect(decoded).toContain('5: "decoded.by.protoc"');
    expect(decoded).toContain('1: "raw-check"');
  });
});
