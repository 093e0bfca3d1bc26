// A full disk under a running embedded engine: each way in is refused retryably while it is full, health fails
// naming the disk, and once space is back what the clients retry lands exactly once.

import * as grpc from '@grpc/grpc-js';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutomagikTelemetry } from '../src/index.js';
import { cli } from './helpers/cli.js';
import { emitSpan } from './helpers/otel.js';
import { startStack, type RunningStack } from './helpers/stack.js';
import { mountTmpfs, type Tmpfs } from './helpers/tmpfs.js';
import { toolAvailable } from './helpers/tools.js';

const tmpfs: Tmpfs | undefined = await mountTmpfs(64);
let stack: RunningStack;

beforeAll(async () => {
  if (!tmpfs) return;
  // No cap here: these tests are about the disk itself filling up.
  stack = await startStack({ AUTOMAGIK_TELEMETRY_HOME: join(tmpfs.dir, 'home'), AUTOMAGIK_TELEMETRY_MAX_DISK_MB: '0' });
});
afterAll(async () => {
  if (!tmpfs) return;
  await tmpfs.free();
  await stack?.stop();
  await tmpfs.unmount();
});

const count = async (table: string, project: string) =>
  Number((await stack.rows<{ n: string }>(`SELECT count() AS n FROM telemetry.${table} WHERE project_name = {p:String}`, { p: project }))[0]?.n);

async function health(): Promise<{ code: number; checks: Array<{ name: string; ok: boolean; detail: string; warning?: string }> }> {
  const result = await cli(['health', '--json'], stack.home.env);
  return { code: result.code, checks: (JSON.parse(result.stdout) as { checks: Array<{ name: string; ok: boolean; detail: string }> }).checks };
}

/** Health while the disk is full: exit 1, the write check failing with the reason. */
async function expectHealthFailsOnDisk(): Promise<void> {
  const report = await health();
  expect(report.code).toBe(1);
  const write = report.checks.find((c) => c.name === 'disk.write');
  expect(write?.ok).toBe(false);
  expect(write?.detail).toMatch(/cannot write|lack of space/);
  expect(report.checks.find((c) => c.name === 'disk.space')?.warning).toMatch(/free/);
}

async function expectHealthy(): Promise<void> {
  const report = await health();
  expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  expect(report.code).toBe(0);
}

const lines = (project: string, n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ event: 'disk.full', project, attributes: { i } })).join('\n') + '\n';

describe.runIf(tmpfs !== undefined)('a disk that fills up under the embedded engine', () => {
  it('ClickHouse HTTP answers 507 NOT_ENOUGH_SPACE, as ClickHouse does, and takes the same insert once space is back', async () => {
    await tmpfs!.fill();
    const insert = () =>
      fetch(`${stack.vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT}/?query=${encodeURIComponent('INSERT INTO telemetry.traces (trace_id, span_id, timestamp, service_name, span_name, project_name) FORMAT JSONEachRow')}`, {
        method: 'POST',
        headers: { Authorization: stack.auth('ingest') },
        body: JSON.stringify({ trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16), timestamp: Date.now(), service_name: 's', span_name: 'x', project_name: 'disk-ch-http' }),
      });
    const refused = await insert();
    expect(refused.status).toBe(507);
    expect(await refused.text()).toMatch(/Code: 243\..*NOT_ENOUGH_SPACE/);
    await expectHealthFailsOnDisk();
    await tmpfs!.free();
    expect((await insert()).status).toBe(200);
    expect(await count('traces', 'disk-ch-http')).toBe(1);
    await expectHealthy();
  });

  it.each(['clickhouse', 'otlp'])('send --stdin through %s waits out the full disk and reports exactly what the store holds', async (backend) => {
    const project = `disk-send-${backend}`;
    await tmpfs!.fill();
    const sending = cli(['send', '--stdin', '--backend', backend, '--project', project, '--batch-size', '500', '--json'], stack.home.env, lines(project, 2_000));
    await new Promise((r) => setTimeout(r, 2_500));
    await expectHealthFailsOnDisk();
    await tmpfs!.free();
    const result = await sending;
    const report = JSON.parse(result.stdout) as { read: number; sent: number; failed: number };
    expect(report.read).toBe(2_000);
    // Nothing both reported failed and stored: the store holds what send says it sent, no more, no less.
    expect(await count('traces', project)).toBe(report.sent);
    expect(report.sent + report.failed).toBe(2_000);
    expect(report.sent).toBe(2_000);
    expect(result.code).toBe(0);
    await expectHealthy();
  });

  it('OTLP/HTTP answers 503 with Retry-After, and the official exporter retrying it delivers once space is back', async () => {
    await tmpfs!.fill();
    const body = JSON.stringify({
      resourceLogs: [{ resource: { attributes: [{ key: 'project.name', value: { stringValue: 'disk-otlp-raw' } }] }, scopeLogs: [{ logRecords: [{ timeUnixNano: String(Date.now() * 1e6), body: { stringValue: 'hello' } }] }] }],
    });
    const post = () => fetch(`${stack.vars.OTEL_EXPORTER_OTLP_ENDPOINT}/v1/logs`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: stack.auth('ingest') }, body });
    const refused = await post();
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refused.json()) as { code: number; message: string }).message).toMatch(/could not be stored.*(not enough space|NOT_ENOUGH_SPACE)/i);
    expect(await count('logs', 'disk-otlp-raw')).toBe(0);

    // The official exporter gets 503 and backs off; the space comes back meanwhile.
    const emitting = emitSpan({ url: `${stack.vars.OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces`, encoding: 'protobuf', headers: { Authorization: stack.auth('ingest') }, resource: { 'service.name': 'disk', 'project.name': 'disk-otlp-exporter' }, name: 'retried' });
    await new Promise((r) => setTimeout(r, 1_500));
    await tmpfs!.free();
    await emitting;
    expect(await count('traces', 'disk-otlp-exporter')).toBe(1);
    expect((await post()).status).toBe(200);
    expect(await count('logs', 'disk-otlp-raw')).toBe(1);
    await expectHealthy();
  });

  it('OTLP/gRPC answers UNAVAILABLE (retryable in the OTLP spec) while full, and takes the next export once space is back', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', stack.auth('ingest'));
    const url = `http://127.0.0.1:${stack.home.env.AUTOMAGIK_TELEMETRY_OTLP_GRPC_PORT}`;
    const outcomes: Array<{ code: number; error?: string }> = [];
    const exportSpans = async (project: string, timeoutMillis: number): Promise<{ code: number; error?: string }> => {
      const exporter = new GrpcTraceExporter({ url, metadata, timeoutMillis });
      const wrapped: SpanExporter = {
        export: (spans: ReadableSpan[], done) =>
          exporter.export(spans, (result) => {
            outcomes.push({ code: result.code, ...(result.error ? { error: `${(result.error as { code?: number }).code ?? ''} ${result.error.message}` } : {}) });
            done(result);
          }),
        shutdown: () => exporter.shutdown(),
      };
      const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'disk', 'project.name': project }), spanProcessors: [new SimpleSpanProcessor(wrapped)] });
      provider.getTracer('disk').startSpan('grpc').end();
      // A failed export rejects the flush; the outcome recorded above is what the test reads.
      await provider.forceFlush().catch(() => undefined);
      await provider.shutdown().catch(() => undefined);
      return outcomes[outcomes.length - 1] as { code: number; error?: string };
    };

    await tmpfs!.fill();
    // The official JS gRPC exporter does not retry (it treats every error as final), so it reports UNAVAILABLE at once:
    // and indeed nothing of it was stored.
    const failed = await exportSpans('disk-grpc-failed', 5_000);
    expect(failed.code).toBe(1);
    expect(failed.error).toMatch(/^14 .*UNAVAILABLE: spans could not be stored: .*NOT_ENOUGH_SPACE/);
    await expectHealthFailsOnDisk();
    await tmpfs!.free();
    expect((await exportSpans('disk-grpc-later', 5_000)).code).toBe(0);
    expect(await count('traces', 'disk-grpc-failed')).toBe(0);
    expect(await count('traces', 'disk-grpc-later')).toBe(1);
    await expectHealthy();
  });

  it('the TypeScript SDK keeps the events queued while the disk is full and delivers them when space is back', async () => {
    const spoolDir = await mkdtemp(join(tmpdir(), 'amt-disk-spool-'));
    try {
      for (const backend of ['otlp', 'clickhouse'] as const) {
        const project = `disk-sdk-${backend}`;
        const client = new AutomagikTelemetry({
          projectName: project,
          backend,
          endpoint: `${stack.vars.OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces`,
          clickhouseEndpoint: stack.vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT,
          clickhouseUsername: stack.roles.ingest.username,
          clickhousePassword: stack.roles.ingest.password,
          spoolDir: join(spoolDir, backend),
          maxRetries: 0,
          flushIntervalMs: 60_000,
          onError: () => undefined,
        });
        await tmpfs!.fill();
        for (let i = 0; i < 50; i++) client.trackEvent('queued', { i });
        await client.flush();
        expect(client.stats()).toMatchObject({ sent: 0, failed: 0, dropped: 0, queued: 50 });
        expect(await count('traces', project)).toBe(0);
        await tmpfs!.free();
        await client.flush();
        expect(client.stats()).toMatchObject({ sent: 50, failed: 0, dropped: 0, queued: 0 });
        expect(await count('traces', project)).toBe(50);
        await client.shutdown();
      }
    } finally {
      await rm(spoolDir, { recursive: true, force: true });
    }
  });

  it.runIf(toolAvailable('python3', 'python3'))('the Python SDK keeps the events queued while the disk is full and delivers them when space is back', async () => {
    const work = await mkdtemp(join(tmpdir(), 'amt-disk-py-'));
    try {
      const script = [
        'import json, os, sys, time',
        `sys.path.insert(0, ${JSON.stringify(join(import.meta.dirname, '..', 'python', 'src'))})`,
        'from automagik_telemetry import AutomagikTelemetry',
        'backend, go = sys.argv[1], sys.argv[2]',
        'client = AutomagikTelemetry(project_name="disk-py-" + backend, backend=backend, max_retries=0, flush_interval=60, on_error=lambda e: None)',
        'for i in range(40): client.track_event("queued", {"i": i})',
        'print(json.dumps({"flushed": client.flush(timeout=3), **client.stats()}), flush=True)',
        'while not os.path.exists(go): time.sleep(0.05)',
        'print(json.dumps({"flushed": client.flush(timeout=20), **client.stats()}), flush=True)',
        'client.shutdown(timeout=5)',
      ].join('\n');
      await writeFile(join(work, 'app.py'), script);
      for (const backend of ['otlp', 'clickhouse']) {
        const go = join(work, `go-${backend}`);
        await tmpfs!.fill();
        const child = spawn('python3', [join(work, 'app.py'), backend, go], {
          env: { PATH: process.env.PATH, HOME: work, ...stack.vars, PYTHONDONTWRITEBYTECODE: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        const done = new Promise<number | null>((resolve) => child.on('close', resolve));
        for (let waited = 0; !out.includes('\n') && waited < 30_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
        expect(JSON.parse(out.split('\n')[0] ?? '{}'), err).toMatchObject({ flushed: false, sent: 0, failed: 0, dropped: 0, queued: 40 });
        expect(await count('traces', `disk-py-${backend}`)).toBe(0);
        await tmpfs!.free();
        await writeFile(go, '');
        expect(await done, err).toBe(0);
        expect(JSON.parse(out.split('\n')[1] ?? '{}')).toMatchObject({ flushed: true, sent: 40, failed: 0, dropped: 0, queued: 0 });
        expect(await count('traces', `disk-py-${backend}`)).toBe(40);
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

