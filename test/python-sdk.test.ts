import { JsonLogsSerializer, JsonMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

/** Every field path of a JSON value ("resourceMetrics.scopeMetrics.metrics.sum.isMonotonic"), arrays flattened. */
function paths(value: unknown, prefix = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) value.forEach((item) => paths(item, prefix, out));
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const path = prefix ? `${prefix}.${key}` : key;
      out.add(path);
      if (key !== 'value') paths(item, path, out);
    }
  }
  return out;
}

class CollectingReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

describe('the hand-written log and metric vectors', () => {
  it('use only fields the official OpenTelemetry JSON serializers write for the same data', async () => {
    const vectors = JSON.parse(readFileSync(join(root, 'test-vectors', 'sdk-vectors.json'), 'utf8')) as Array<{ call: { kind: string }; otlp: unknown }>;
    const resource = resourceFromAttributes({ 'service.name': 'shop' });
    const logExporter = new InMemoryLogRecordExporter();
    const logs = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: logExporter })] });
    logs.getLogger('automagik-telemetry', '0.1.0').emit({
      body: 'payment declined', severityNumber: 13, severityText: 'WARN', attributes: { order: 'A-17' }, timestamp: Date.now(),
    });
    await logs.forceFlush();
    const reader = new CollectingReader({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
    const meter = new MeterProvider({ resource, readers: [reader] }).getMeter('automagik-telemetry', '0.1.0');
    meter.createCounter('orders.placed').add(3);
    meter.createHistogram('http.server.duration', { unit: 'ms' }).record(37.5, { route: '/cart' });
    meter.createGauge('queue.depth', { unit: '{items}' }).record(42, { queue: 'emails' });
    const { resourceMetrics } = await reader.collect();
    const official = paths({
      ...JSON.parse(new TextDecoder().decode(JsonLogsSerializer.serializeRequest(logExporter.getFinishedLogRecords()))),
      ...JSON.parse(new TextDecoder().decode(JsonMetricsSerializer.serializeRequest(resourceMetrics))),
    });
    // Ids come from a span context the official record above has none of.
    for (const id of ['traceId', 'spanId']) official.add(`resourceLogs.scopeLogs.logRecords.${id}`);
    const ours = new Set<string>();
    for (const v of vectors.filter((c) => c.call.kind === 'metric' || c.call.kind === 'log')) paths(v.otlp, '', ours);
    expect([...ours].filter((p) => !official.has(p))).toEqual([]);
    expect(ours.size).toBeGreaterThan(30);
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
