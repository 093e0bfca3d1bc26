// <home>/certs as a user meets it: generated once and renewed before it ends (the CA kept, so clients keep trusting
// it), the user's own certificate used as given and never touched, with warnings about what clients will refuse.

import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, tlsSettings } from '../src/config/index.js';
import { ensureCertificates, RENEW_BEFORE_DAYS, SERVER_DAYS } from '../src/tls/certs.js';
import { cli } from './helpers/cli.js';
import { makeTestHome, type TestHome } from './helpers/home.js';
import { toolAvailable } from './helpers/tools.js';

const hasOpenssl = toolAvailable('openssl', 'openssl');
const DAY = 86_400_000;

/** A CA and a server certificate made the way a user would, with openssl, for the names in `san`. */
function userCertificates(dir: string, san: string, days = '30'): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'user-ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=user CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  ssl('req', '-new', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=user server');
  execFileSync('sh', ['-c', `printf 'subjectAltName=${san}\\n' > ext`], { cwd: dir });
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'user-ca.key', '-set_serial', '7', '-days', days, '-extfile', 'ext', '-out', 'server.crt');
}

/** The certificate a TLS server on 127.0.0.1:`port` presents, verified against `ca`. */
function presented(port: number, ca: Buffer): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (cert) resolve(cert);
      else reject(new Error('no certificate'));
    });
    socket.once('error', reject);
  });
}

describe.runIf(hasOpenssl)('the certificates in <home>/certs', () => {
  let home: TestHome;
  beforeAll(async () => (home = await makeTestHome()));
  afterAll(async () => home.cleanup());

  it('are generated once, kept while valid, and renewed from the same CA near their end', async () => {
    const tls = await tlsSettings(join(home.home, 'gen'), true);
    const first = await ensureCertificates(tls);
    expect(first.state).toBe('generated');
    const ca = await readFile(first.caFile);
    const server = await readFile(tls.certFile);
    expect((await ensureCertificates(tls)).state).toBe('kept');
    expect(await readFile(tls.certFile)).toEqual(server);

    // RENEW_BEFORE_DAYS - 1 days before the end: a new server certificate, signed by the CA clients already trust.
    const late = new Date(Date.parse(new X509Certificate(server).validTo) - (RENEW_BEFORE_DAYS - 1) * DAY);
    const renewed = await ensureCertificates(tls, [], late);
    expect(renewed.state).toBe('renewed');
    expect(await readFile(first.caFile)).toEqual(ca);
    const fresh = new X509Certificate(await readFile(tls.certFile));
    expect(fresh.raw.equals(new X509Certificate(server).raw)).toBe(false);
    expect(fresh.verify(new X509Certificate(ca).publicKey)).toBe(true);
    expect(Math.round((Date.parse(fresh.validTo) - Date.now()) / DAY)).toBe(SERVER_DAYS);
    expect(((await stat(tls.keyFile)).mode & 0o777).toString(8)).toBe('600');
    // No half-built folders left behind.
    expect((await readdir(tls.dir)).sort()).toEqual(['ca.crt', 'ca.key', 'generated.json', 'server.crt', 'server.key']);
  });

  it('the CA vouches only for the stack\'s names; a new name (--host) makes a new CA and certificate', async () => {
    const tls = await tlsSettings(join(home.home, 'names'), true);
    await ensureCertificates(tls);
    // Signed by the generated CA, for a name that is not the stack's: OpenSSL refuses it (nameConstraints).
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: tls.dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    ssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'evil.key', '-out', 'evil.csr', '-subj', '/CN=bank.example');
    await writeFile(join(tls.dir, 'evil.ext'), 'subjectAltName=DNS:bank.example\n');
    ssl('x509', '-req', '-in', 'evil.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '9', '-days', '1', '-extfile', 'evil.ext', '-out', 'evil.crt');
    let refusal = '';
    try {
      ssl('verify', '-CAfile', 'ca.crt', 'evil.crt');
    } catch (error) {
      refusal = String((error as { stdout?: Buffer }).stdout ?? '') + String((error as { stderr?: Buffer }).stderr ?? '');
    }
    expect(refusal).toContain('permitted subtree violation');
    expect(ssl('verify', '-CAfile', 'ca.crt', 'server.crt')).toContain('server.crt: OK');

    const oldCa = await readFile(tls.caFile);
    const again = await ensureCertificates(tls, ['10.1.2.3', 'telemetry.internal']);
    expect(again.state).toBe('generated');
    expect(await readFile(tls.caFile)).not.toEqual(oldCa);
    const san = new X509Certificate(await readFile(tls.certFile)).subjectAltName ?? '';
    expect(san).toContain('IP Address:10.1.2.3');
    expect(san).toContain('DNS:telemetry.internal');
    expect((await ensureCertificates(tls, ['10.1.2.3', 'telemetry.internal'])).state).toBe('kept');
  });

  it("the user's own are used as given, never rewritten; expired or without localhost, start warns", async () => {
    const dir = join(home.home, 'user');
    await mkdir(dir, { recursive: true });
    userCertificates(dir, 'DNS:telemetry.example', '1');
    const before = await readFile(join(dir, 'server.crt'));
    const tls = await tlsSettings(join(home.home, 'user-home-unused'), true);
    const report = await ensureCertificates({ ...tls, dir, certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), caFile: join(dir, 'ca.crt') }, [], new Date(Date.now() + 3 * DAY));
    expect(report.state).toBe('provided');
    expect(report.warnings).toEqual([
      expect.stringMatching(new RegExp(`^${join(dir, 'server.crt')} expired on .*: clients will refuse it; replace it \\(it is yours: start does not renew it\\)$`)),
      `${join(dir, 'server.crt')} does not name localhost in its subjectAltName: clients on this machine that connect to localhost will refuse it`,
    ]);
    expect(await readFile(join(dir, 'server.crt'))).toEqual(before);
    expect(await readdir(dir)).not.toContain('generated.json');

    // A ca.crt that did not sign it (say, left from a generated set): warned, still used as given.
    const generated = await ensureCertificates(await tlsSettings(join(home.home, 'another'), true));
    await writeFile(join(dir, 'ca.crt'), await readFile(generated.caFile));
    const mismatched = await ensureCertificates({ ...tls, dir, certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), caFile: join(dir, 'ca.crt') });
    expect(mismatched.warnings.at(-1)).toBe(`${join(dir, 'server.crt')} is not signed by ${join(dir, 'ca.crt')}: clients that trust ${join(dir, 'ca.crt')} will refuse it; put the CA that signed it there, or remove ca.crt if it is self-signed`);
  });

  it('a certificate without its key, a CA without a certificate, or a file that is not PEM: E_TLS naming the file', async () => {
    const dir = join(home.home, 'broken');
    await mkdir(dir, { recursive: true });
    const tls = { enabled: true, dir, certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), caFile: join(dir, 'ca.crt') };
    await writeFile(tls.caFile, 'x');
    await expect(ensureCertificates(tls)).rejects.toMatchObject({ code: 'E_TLS', message: `${tls.caFile} is there but no server.crt and server.key` });
    await writeFile(tls.certFile, 'not a certificate');
    await expect(ensureCertificates(tls)).rejects.toMatchObject({ code: 'E_TLS', message: `${tls.certFile} is there but ${tls.keyFile} is not` });
    await writeFile(tls.keyFile, 'not a key');
    await expect(ensureCertificates(tls)).rejects.toMatchObject({ code: 'E_TLS', message: expect.stringMatching(new RegExp(`^${tls.certFile} is not a PEM certificate`)) });
  });

  it("the user's key must open without a passphrase and belong to the certificate: E_TLS naming the key file", async () => {
    const dir = join(home.home, 'keys');
    await mkdir(dir, { recursive: true });
    userCertificates(dir, 'DNS:localhost');
    const tls = { enabled: true, dir, certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), caFile: join(dir, 'ca.crt') };
    expect((await ensureCertificates(tls)).state).toBe('provided');
    execFileSync('openssl', ['pkey', '-in', 'server.key', '-aes256', '-passout', 'pass:secret', '-out', 'encrypted.key'], { cwd: dir });
    await expect(ensureCertificates({ ...tls, keyFile: join(dir, 'encrypted.key') })).rejects.toMatchObject({ code: 'E_TLS', message: `${join(dir, 'encrypted.key')} is encrypted: the servers need it without a passphrase` });
    await expect(ensureCertificates({ ...tls, keyFile: join(dir, 'user-ca.key') })).rejects.toMatchObject({ code: 'E_TLS', message: `${join(dir, 'user-ca.key')} is not the private key of ${tls.certFile}` });
  });

  it('without the openssl command, start --tls stops with E_TLS saying so (and how to do without)', async () => {
    const bare = await makeTestHome();
    try {
      const started = await cli(['start', '--tls'], { ...bare.env, PATH: join(bare.home, 'no-tools-here') });
      expect(started.code).toBe(1);
      expect(started.stderr).toContain('error cannot generate the TLS certificates: the openssl command is not installed');
      expect(started.stderr).toContain('put your own server.crt and server.key in <home>/certs/');
      expect(await readdir(bare.home)).not.toContain('run');
    } finally {
      await bare.cleanup();
    }
  });

  it('AUTOMAGIK_TELEMETRY_TLS takes 1/0, true/false; anything else is E_CONFIG naming the variable', async () => {
    expect((await loadConfig({ env: { ...home.env, AUTOMAGIK_TELEMETRY_TLS: '1' } })).tls.enabled).toBe(true);
    expect((await loadConfig({ env: { ...home.env, AUTOMAGIK_TELEMETRY_TLS: 'false' } })).tls.enabled).toBe(false);
    await expect(loadConfig({ env: { ...home.env, AUTOMAGIK_TELEMETRY_TLS: 'maybe' } })).rejects.toMatchObject({
      code: 'E_CONFIG',
      message: 'AUTOMAGIK_TELEMETRY_TLS="maybe" (from environment) is not valid: expected 1 or 0 (true/false, yes/no, on/off)',
    });
  });
});

describe.runIf(hasOpenssl)("start --tls with the user's certificates in <home>/certs", () => {
  let home: TestHome;
  beforeAll(async () => {
    home = await makeTestHome();
    await mkdir(join(home.home, 'certs'), { recursive: true });
    userCertificates(join(home.home, 'certs'), 'DNS:localhost,IP:127.0.0.1');
  });
  afterAll(async () => {
    await cli(['stop'], home.env);
    await home.cleanup();
  });

  it('serves exactly that certificate on every port, and env points clients at the given ca.crt', async () => {
    const certs = join(home.home, 'certs');
    const given = await readFile(join(certs, 'server.crt'));
    const started = await cli(['start', '--tls'], home.env);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stderr).not.toContain('generated a local CA');
    expect(started.stderr).not.toContain('warning');
    const ca = await readFile(join(certs, 'ca.crt'));
    for (const name of ['CLICKHOUSE', 'OTLP', 'OTLP_GRPC', 'DASHBOARD']) {
      const cert = await presented(Number(home.env[`AUTOMAGIK_TELEMETRY_${name}_PORT`]), ca);
      expect(cert.raw.equals(new X509Certificate(given).raw), name).toBe(true);
    }
    expect(await readFile(join(certs, 'server.crt'))).toEqual(given);
    expect((await readdir(certs)).sort()).toEqual(['ca.crt', 'ext', 'server.crt', 'server.csr', 'server.key', 'user-ca.key']);
    const vars = JSON.parse((await cli(['env', '--json'], home.env)).stdout) as Record<string, string>;
    expect(vars.OTEL_EXPORTER_OTLP_CERTIFICATE).toBe(join(certs, 'ca.crt'));
    expect((await cli(['send', '--project', 'user-certs', '--log', 'mine'], home.env)).code).toBe(0);
  });

  it('is remembered: a plain start and every command keep TLS; --no-tls turns it off', async () => {
    expect((await cli(['stop'], home.env)).code).toBe(0);
    const again = await cli(['start', '--json'], home.env);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { endpoints: { clickhouse: string } }).endpoints.clickhouse).toMatch(/^https:/);
    const stack = JSON.parse(await readFile(join(home.home, 'run', 'stack.json'), 'utf8')) as { tls: boolean };
    expect(stack.tls).toBe(true);
    expect((await cli(['health'], home.env)).code).toBe(0);
    // Asked for plain http while the TLS stack runs: it keeps running as it is, and says so.
    const running = await cli(['start', '--no-tls'], home.env);
    expect(running.stderr).toContain('warning: the running stack serves https: stop it, then start with --no-tls');
    expect((await cli(['status', '--json'], home.env)).stdout).toContain('"clickhouse": "https://');
    expect((await cli(['stop'], home.env)).code).toBe(0);
    const plain = await cli(['start', '--no-tls', '--json'], home.env);
    expect(plain.code, plain.stderr).toBe(0);
    expect((JSON.parse(plain.stdout) as { endpoints: { clickhouse: string } }).endpoints.clickhouse).toMatch(/^http:/);
    expect((await cli(['health'], home.env)).code).toBe(0);
  });
});

describe('which CA the SDK trusts', () => {
  let home: TestHome;
  beforeAll(async () => {
    home = await makeTestHome();
    await mkdir(join(home.home, 'run'), { recursive: true });
  });
  afterAll(async () => home.cleanup());

  it('the ca option, then caFile, then AUTOMAGIK_TELEMETRY_CA_FILE, then a --tls home\'s certs/ca.crt; a plain home: the system\'s', async () => {
    const { resolveSdkOptions } = await import('../src/sdk/options.js');
    const env = { AUTOMAGIK_TELEMETRY_HOME: home.home };
    const resolve = (options: Record<string, unknown>, extra: Record<string, string> = {}) => resolveSdkOptions({ projectName: 'p', ...options }, { ...env, ...extra });
    expect(resolve({}).trust).toBeUndefined();
    expect(resolve({}).endpoint).toBe('http://localhost:4318/v1/traces');
    await writeFile(join(home.home, 'run', 'stack.json'), JSON.stringify({ tls: true }));
    const fromHome = resolve({});
    expect(fromHome.trust).toEqual({ caFile: join(home.home, 'certs', 'ca.crt') });
    expect([fromHome.endpoint, fromHome.clickhouseEndpoint]).toEqual(['https://localhost:4318/v1/traces', 'https://localhost:8123']);
    expect(resolve({}, { AUTOMAGIK_TELEMETRY_CA_FILE: '/etc/ca.pem' }).trust).toEqual({ caFile: '/etc/ca.pem' });
    expect(resolve({ caFile: '/opt/ca.pem' }, { AUTOMAGIK_TELEMETRY_CA_FILE: '/etc/ca.pem' }).trust).toEqual({ caFile: '/opt/ca.pem' });
    expect(resolve({ ca: 'PEM', caFile: '/opt/ca.pem' }).trust).toEqual({ ca: 'PEM' });
    // An endpoint given explicitly keeps its own scheme.
    expect(resolve({ endpoint: 'http://collector:4318/v1/traces' }).endpoint).toBe('http://collector:4318/v1/traces');
  });
});
