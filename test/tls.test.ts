// A user starts the embedded stack with --tls and reaches every endpoint as strangers' clients would: curl, the
// official ClickHouse client, the official OpenTelemetry exporters, our SDK and CLI, and Chromium; each trusting the
// generated CA and refusing without it.

import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spkiHash } from '../src/tls/certs.js';
import { chromiumAvailable, launchChromium } from './helpers/browser.js';
import { cli } from './helpers/cli.js';
import { makeTestHome, type TestHome } from './helpers/home.js';
import { makeAppFolder, PACKAGE_ROOT, type AppFolder } from './helpers/sdk-app.js';
import { toolAvailable } from './helpers/tools.js';

const run = promisify(execFile);
const hasCurl = toolAvailable('curl', 'curl');
const hasOpenssl = toolAvailable('openssl', 'openssl');
const hasChromium = await chromiumAvailable();
const hasPython = toolAvailable('python3', 'python3');

/** curl's exit code and output (60: the peer's certificate is not trusted). */
async function curl(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run('curl', ['-sS', '--max-time', '10', ...args]);
    return { code: 0, out: stdout };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** A CA (certificate at `file`, key beside it) that signed nothing of the stack's. */
function otherCa(file: string): void {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${file}.key`, '-out', file, '-days', '1', '-subj', '/CN=other CA'], { stdio: 'ignore' });
}

describe.runIf(hasCurl && hasOpenssl)('start --tls: every endpoint of the embedded engine over TLS', () => {
  let home: TestHome;
  let vars: Record<string, string>;
  let admin: Record<string, string>;
  let ca: string;
  let startErr: string;
  const port = (name: string) => home.env[`AUTOMAGIK_TELEMETRY_${name}_PORT`] ?? '';
  const count = async (sql: string) => {
    const q = await cli(['query', '--format', 'json', sql], home.env);
    expect(q.code, q.stderr).toBe(0);
    return Number(Object.values((JSON.parse(q.stdout) as Array<Record<string, unknown>>)[0] ?? {})[0]);
  };

  beforeAll(async () => {
    home = await makeTestHome();
    const started = await cli(['start', '--tls'], home.env);
    startErr = started.stderr;
    expect(started.code, started.stderr).toBe(0);
    vars = JSON.parse((await cli(['env', '--json'], home.env)).stdout) as Record<string, string>;
    admin = JSON.parse((await cli(['env', '--json', '--role', 'admin'], home.env)).stdout) as Record<string, string>;
    ca = join(home.home, 'certs', 'ca.crt');
  });
  afterAll(async () => {
    await cli(['stop'], home.env);
    await home.cleanup();
  });

  it('generates a local CA and a server certificate for localhost, 127.0.0.1, ::1 and the Docker services, keys 0600', async () => {
    expect(startErr).toContain(`generated a local CA and a server certificate in ${join(home.home, 'certs')}`);
    for (const key of ['ca.key', 'server.key']) expect(((await stat(join(home.home, 'certs', key))).mode & 0o777).toString(8)).toBe('600');
    const server = new X509Certificate(await readFile(join(home.home, 'certs', 'server.crt')));
    expect(server.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:clickhouse, DNS:collector, DNS:grafana');
    expect(server.verify(new X509Certificate(await readFile(ca)).publicKey)).toBe(true);
    const days = (Date.parse(server.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(390);
    expect(days).toBeLessThan(398);
  });

  it('env prints https endpoints and the CA under the names OpenTelemetry SDKs and Node read', async () => {
    expect(vars.AUTOMAGIK_TELEMETRY_ENDPOINT).toBe(`https://127.0.0.1:${port('OTLP')}/v1/traces`);
    expect(vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT).toBe(`https://127.0.0.1:${port('CLICKHOUSE')}`);
    expect(vars.OTEL_EXPORTER_OTLP_ENDPOINT).toBe(`https://127.0.0.1:${port('OTLP')}`);
    expect(vars.OTEL_EXPORTER_OTLP_CERTIFICATE).toBe(ca);
    expect(vars.NODE_EXTRA_CA_CERTS).toBe(ca);
    expect(vars.AUTOMAGIK_TELEMETRY_CA_FILE).toBe(ca);
    const human = await cli(['env'], home.env);
    expect(human.stdout).toContain(`export OTEL_EXPORTER_OTLP_CERTIFICATE='${ca}'`);
    const status = JSON.parse((await cli(['status', '--json'], home.env)).stdout) as { endpoints: Record<string, string> };
    expect(status.endpoints.dashboard).toBe(`https://127.0.0.1:${port('DASHBOARD')}`);
    expect(status.endpoints.otlpGrpc).toBe(`https://127.0.0.1:${port('OTLP_GRPC')}`);
  });

  it('curl with --cacert reaches the ClickHouse, OTLP and dashboard ports; without it (or over plain http) it is refused', async () => {
    expect(await curl('--cacert', ca, `https://127.0.0.1:${port('CLICKHOUSE')}/ping`)).toEqual({ code: 0, out: 'Ok.\n' });
    expect(await curl('--cacert', ca, `https://localhost:${port('OTLP')}/health`)).toMatchObject({ code: 0 });
    expect(await curl('--cacert', ca, '-o', '/dev/null', '-w', '%{http_code}', `https://127.0.0.1:${port('DASHBOARD')}/health`)).toEqual({ code: 0, out: '200' });
    const query = await curl('--cacert', ca, '-u', `${admin.AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME}:${admin.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD}`, '--data-binary', 'SELECT 40 + 2', `https://127.0.0.1:${port('CLICKHOUSE')}/`);
    expect(query).toEqual({ code: 0, out: '42\n' });
    // 60: "Peer certificate cannot be authenticated with known CA certificates".
    expect((await curl(`https://127.0.0.1:${port('CLICKHOUSE')}/ping`)).code).toBe(60);
    expect((await curl(`https://127.0.0.1:${port('OTLP')}/health`)).code).toBe(60);
    const plain = await curl(`http://127.0.0.1:${port('CLICKHOUSE')}/ping`);
    expect(plain.out).not.toBe('Ok.\n');
  });

  it('the official ClickHouse client queries with tls.ca_cert, and fails to verify without it', async () => {
    const url = vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT ?? '';
    const credentials = { username: admin.AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME ?? '', password: admin.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD ?? '' };
    const client = createClient({ url, ...credentials, tls: { ca_cert: await readFile(ca) } });
    try {
      const rows = await (await client.query({ query: 'SELECT 6 * 7 AS answer', format: 'JSONEachRow' })).json<{ answer: number }>();
      expect(rows).toEqual([{ answer: 42 }]);
    } finally {
      await client.close();
    }
    // Its own logger would print the expected failure as an ERROR: quiet here, the assertion reads it.
    const untrusting = createClient({ url, ...credentials, log: { level: ClickHouseLogLevel.OFF } });
    try {
      await expect(untrusting.query({ query: 'SELECT 1' })).rejects.toThrow(/self.signed|unable to verify|certificate/i);
    } finally {
      await untrusting.close();
    }
  });

  it("OpenTelemetry's official http/protobuf exporter, configured only by `env`'s variables, lands spans", async () => {
    const script = `
      import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
      import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
      import { resourceFromAttributes } from '@opentelemetry/resources';
      const exporter = new OTLPTraceExporter();
      const failures = [];
      const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'tls-proto', 'project.name': 'tls-proto' }), spanProcessors: [new SimpleSpanProcessor({
        export: (spans, done) => exporter.export(spans, (r) => { if (r.error) failures.push(String(r.error)); done(r); }),
        shutdown: () => exporter.shutdown(), forceFlush: () => exporter.forceFlush() })] });
      provider.getTracer('t').startSpan('over-tls-proto').end();
      await provider.forceFlush().catch((e) => failures.push(String(e))); await provider.shutdown().catch(() => {});
      console.log(JSON.stringify({ failures }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: PACKAGE_ROOT, env: { PATH: process.env.PATH, ...vars } });
    expect(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}')).toEqual({ failures: [] });
    expect(await count("SELECT count() FROM telemetry.traces WHERE span_name = 'over-tls-proto'")).toBe(1);
    // The same exporter without the CA variable is refused.
    const { OTEL_EXPORTER_OTLP_CERTIFICATE: _ca, NODE_EXTRA_CA_CERTS: _node, ...untrusting } = vars;
    const refused = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: PACKAGE_ROOT, env: { PATH: process.env.PATH, ...untrusting } });
    expect(JSON.parse(refused.stdout.trim().split('\n').at(-1) ?? '{}').failures.join(' ')).toMatch(/certificate/i);
  });

  it("OpenTelemetry's official gRPC exporter with credentials from the CA lands spans", async () => {
    const credentials = grpc.credentials.createSsl(await readFile(ca));
    const metadata = new grpc.Metadata();
    const ingest = `${vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME}:${vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD}`;
    metadata.set('authorization', `Basic ${Buffer.from(ingest).toString('base64')}`);
    const exporter = new GrpcTraceExporter({ url: `https://localhost:${port('OTLP_GRPC')}`, credentials, metadata });
    const failures: string[] = [];
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'tls-grpc', 'project.name': 'tls-grpc' }),
      spanProcessors: [
        new SimpleSpanProcessor({
          export: (spans, done) => exporter.export(spans, (r) => { if (r.error) failures.push(String(r.error)); done(r); }),
          shutdown: () => exporter.shutdown(),
          forceFlush: () => exporter.forceFlush(),
        }),
      ],
    });
    provider.getTracer('t').startSpan('over-tls-grpc').end();
    await provider.forceFlush();
    await provider.shutdown();
    expect(failures).toEqual([]);
    expect(await count("SELECT count() FROM telemetry.traces WHERE span_name = 'over-tls-grpc'")).toBe(1);
  });

  describe('our SDK, in a stranger app', () => {
    let app: AppFolder;
    beforeAll(async () => (app = await makeAppFolder()));
    afterAll(async () => app.cleanup());

    const source = (backend: string, project: string, extra = '') => `
      import { AutomagikTelemetry } from 'automagik-telemetry';
      const errors = [];
      const t = new AutomagikTelemetry({ projectName: ${JSON.stringify(project)}, backend: ${JSON.stringify(backend)}, maxRetries: 0, onError: (e) => errors.push(e.code + ' ' + e.message) ${extra} });
      t.trackEvent('tls.event');
      const r = await t.shutdown();
      console.log(JSON.stringify({ sent: r.sent, errors: [...errors, ...r.errors] }));`;
    const last = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { sent: number; errors: string[] };

    it.each(['otlp', 'clickhouse'])('with the %s backend trusts a --tls home by itself (only AUTOMAGIK_TELEMETRY_HOME set)', async (backend) => {
      const project = `tls-sdk-${backend}`;
      const env = { AUTOMAGIK_TELEMETRY_HOME: home.home, AUTOMAGIK_TELEMETRY_OTLP_PORT: port('OTLP'), AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT: port('CLICKHOUSE') };
      const result = await app.run(source(backend, project), env);
      expect(last(result.stdout), result.stderr).toEqual({ sent: 1, errors: [] });
      expect(await count(`SELECT count() FROM telemetry.traces WHERE project_name = '${project}'`)).toBe(1);
    });

    it.each(['otlp', 'clickhouse'])('with the %s backend and a CA that did not sign the stack: E_TLS naming the endpoint and the CA file', async (backend) => {
      const other = join(app.dir, 'other-ca.crt');
      otherCa(other);
      const result = await app.run(source(backend, `tls-wrong-${backend}`), { ...vars, AUTOMAGIK_TELEMETRY_CA_FILE: other });
      const out = last(result.stdout);
      expect(out.sent).toBe(0);
      const endpoint = backend === 'otlp' ? `https://127.0.0.1:${port('OTLP')}` : `https://127.0.0.1:${port('CLICKHOUSE')}`;
      // The stack presents its chain (server certificate and CA): OpenSSL finds the CA there and trusts it not.
      expect(out.errors[0]).toBe(`E_TLS the certificate of ${endpoint} is not signed by the CA file ${other} (SELF_SIGNED_CERT_IN_CHAIN)`);
    });

    it('takes the CA as PEM text in code (option ca)', async () => {
      const pem = await readFile(ca, 'utf8');
      const env = { AUTOMAGIK_TELEMETRY_ENDPOINT: vars.AUTOMAGIK_TELEMETRY_ENDPOINT, AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME: vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME, AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD: vars.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD };
      const result = await app.run(source('otlp', 'tls-sdk-pem', `, ca: ${JSON.stringify(pem)}`), env);
      expect(last(result.stdout), result.stderr).toEqual({ sent: 1, errors: [] });
      expect(await count("SELECT count() FROM telemetry.traces WHERE project_name = 'tls-sdk-pem'")).toBe(1);
    });
  });

  it.runIf(hasPython).each(['otlp', 'clickhouse'])('the Python SDK with the %s backend trusts a --tls home by itself, and names a wrong CA', async (backend) => {
    const py = (extra: Record<string, string>) =>
      run('python3', ['-c', `
import json, sys
from automagik_telemetry import AutomagikTelemetry
errors = []
t = AutomagikTelemetry(project_name=sys.argv[1], backend=sys.argv[2], max_retries=0, on_error=lambda e: errors.append(str(e)))
t.track_event("py.tls")
t.flush(10)
print(json.dumps({"sent": t.stats()["sent"], "errors": errors}))
t.shutdown(1)
`, `tls-py-${backend}`, backend], { env: { PATH: process.env.PATH, HOME: home.home, PYTHONPATH: join(PACKAGE_ROOT, 'python', 'src'), AUTOMAGIK_TELEMETRY_HOME: home.home, AUTOMAGIK_TELEMETRY_OTLP_PORT: port('OTLP'), AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT: port('CLICKHOUSE'), ...extra } });
    const trusted = JSON.parse((await py({})).stdout.trim().split('\n')[0] ?? '{}') as { sent: number; errors: string[] };
    expect(trusted).toEqual({ sent: 1, errors: [] });
    expect(await count(`SELECT count() FROM telemetry.traces WHERE project_name = 'tls-py-${backend}'`)).toBe(1);
    const other = join(home.home, `py-other-${backend}.crt`);
    otherCa(other);
    const refused = JSON.parse((await py({ AUTOMAGIK_TELEMETRY_CA_FILE: other })).stdout.trim().split('\n')[0] ?? '{}') as { sent: number; errors: string[] };
    expect(refused.sent).toBe(0);
    const endpoint = backend === 'otlp' ? `https://localhost:${port('OTLP')}` : `https://localhost:${port('CLICKHOUSE')}`;
    expect(refused.errors.join('\n')).toContain(`the certificate of ${endpoint} is not signed by the CA file ${other} (self-signed certificate in certificate chain)`);
  });

  it('the CLI sends events, logs and metrics and queries them back over TLS, health passes every check', async () => {
    expect((await cli(['send', '--project', 'tls-cli', '--event', 'cli.event'], home.env)).code).toBe(0);
    expect((await cli(['send', '--project', 'tls-cli', '--log', 'over tls'], home.env)).code).toBe(0);
    expect((await cli(['send', '--project', 'tls-cli', '--metric', 'tls.metric', '--value', '7'], home.env)).code).toBe(0);
    expect(await count("SELECT count() FROM telemetry.traces WHERE project_name = 'tls-cli'")).toBe(1);
    expect(await count("SELECT count() FROM telemetry.logs WHERE body = 'over tls'")).toBe(1);
    expect(await count("SELECT sum(value) FROM telemetry.metrics WHERE metric_name = 'tls.metric'")).toBe(7);
    // send --stdin keeps its own pipeline (two requests in flight, one token a batch): it trusts the CA as well.
    for (const backend of ['clickhouse', 'otlp']) {
      const lines = Array.from({ length: 300 }, (_, i) => JSON.stringify({ event: 'bulk', project: `tls-stdin-${backend}`, attributes: { i } })).join('\n');
      const bulk = await cli(['send', '--stdin', '--backend', backend, '--json'], home.env, `${lines}\n`);
      expect(bulk.code, bulk.stderr).toBe(0);
      expect(JSON.parse(bulk.stdout)).toMatchObject({ sent: 300, failed: 0 });
      expect(await count(`SELECT count() FROM telemetry.traces WHERE project_name = 'tls-stdin-${backend}'`)).toBe(300);
    }
    const health = JSON.parse((await cli(['health', '--json'], home.env)).stdout) as { healthy: boolean; checks: Array<{ name: string; ok: boolean; target: string }> };
    expect(health.checks.filter((c) => !c.ok)).toEqual([]);
    expect(health.checks.find((c) => c.name === 'otlp.health')?.target).toBe(`https://127.0.0.1:${port('OTLP')}/health`);
    const test = await cli(['test'], home.env);
    expect(test.code, test.stderr).toBe(0);
  });

  it('the CLI with a CA that did not sign the stack says which endpoint and which CA file, not a raw stack', async () => {
    const other = join(home.home, 'other-ca.crt');
    otherCa(other);
    const sent = await cli(['send', '--project', 'tls-wrong', '--log', 'x'], { ...home.env, AUTOMAGIK_TELEMETRY_CA_FILE: other });
    expect(sent.code).not.toBe(0);
    expect(sent.stderr).toContain(`the certificate of https://127.0.0.1:${port('OTLP')} is not signed by the CA file ${other}`);
    expect(sent.stderr).not.toMatch(/\n\s+at /);
    const query = await cli(['query', 'SELECT 1'], { ...home.env, AUTOMAGIK_TELEMETRY_CA_FILE: other });
    expect(query.code).toBe(1);
    expect(query.stderr).toContain(`error the certificate of https://127.0.0.1:${port('CLICKHOUSE')} is not signed by the CA file ${other} (SELF_SIGNED_CERT_IN_CHAIN)`);
    expect(query.stderr).toContain('<home>/certs/ca.crt');
  });

  it.runIf(hasChromium)('Chromium trusting the CA (its SPKI) opens the dashboard; without it, the certificate is refused', async () => {
    const base = `https://127.0.0.1:${port('DASHBOARD')}`;
    const trusting = await launchChromium([`--ignore-certificate-errors-spki-list=${await spkiHash(ca)}`]);
    try {
      const page = await trusting.newPage();
      const answer = await page.goto(`${base}/traces`);
      expect(answer?.status()).toBe(200);
      expect(new URL(page.url()).protocol).toBe('https:');
      // Signing in over https: the session cookie is Secure (never sent to a plain-http port).
      const reader = JSON.parse((await cli(['env', '--json', '--role', 'reader'], home.env)).stdout) as Record<string, string>;
      await page.fill('#password', reader.AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD ?? '');
      await page.click('#sign-in');
      await page.waitForURL((url) => url.pathname === '/', { waitUntil: 'commit' });
      const cookies = await page.context().cookies();
      expect(cookies.map((c) => [c.secure, c.httpOnly])).toEqual([[true, true]]);
    } finally {
      await trusting.close();
    }
    const untrusting = await launchChromium();
    try {
      const page = await untrusting.newPage();
      await expect(page.goto(`${base}/traces`)).rejects.toThrow(/ERR_CERT_AUTHORITY_INVALID/);
    } finally {
      await untrusting.close();
    }
  });
});
