// Owns <home>/certs/: the user's server.crt/server.key (optional ca.crt) used as given, or a local CA and a server
// certificate generated with the openssl command (Node has no X.509 writer), renewed on start before they expire.

import { execFile } from 'node:child_process';
import { X509Certificate, createHash, createPrivateKey, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { TlsSettings } from '../config/index.js';
import { TelemetryError } from '../errors.js';

/** Names every generated server certificate carries: this machine, and the Docker stack's service names. */
export const CERT_NAMES: readonly string[] = ['localhost', '127.0.0.1', '::1', 'clickhouse', 'collector', 'grafana'];
/** A generated server certificate lives this long (under the 398 days browsers accept) and is renewed this close to its end. */
export const SERVER_DAYS = 397;
export const RENEW_BEFORE_DAYS = 30;
const CA_DAYS = 3650;
/** Written beside what we generate, so that a start can tell our files from the user's (which it never touches). */
const MARKER = 'generated.json';

export interface CertificateReport {
  /** 'generated' now, 'renewed' now (the CA kept), 'kept' (ours, still valid), or 'provided' by the user. */
  state: 'generated' | 'renewed' | 'kept' | 'provided';
  certFile: string;
  keyFile: string;
  caFile: string;
  /** When the server certificate ends (ISO-8601). */
  validTo: string;
  /** Problems with a provided certificate, in words: it is still used. */
  warnings: string[];
}

interface Marker {
  /** sha256 fingerprints of the files we wrote. */
  ca: string;
  server: string;
  /** The names the CA may sign for (its nameConstraints). */
  caNames?: string[];
}

/**
 * Makes sure `tls.dir` holds a server certificate and key. Missing: a CA and a server certificate for CERT_NAMES and
 * `extraNames` are generated (keys 0600). Ours and within RENEW_BEFORE_DAYS of its end (or lacking a name now
 * needed): a new server certificate from the same CA, so clients keep trusting it. The user's: used as given, with
 * warnings when it has expired or does not name localhost.
 */
export async function ensureCertificates(tls: TlsSettings, extraNames: readonly string[] = [], now = new Date()): Promise<CertificateReport> {
  const names = [...new Set([...CERT_NAMES, ...extraNames.filter((n) => n !== '' && n !== '0.0.0.0' && n !== '::')])];
  const caFile = join(tls.dir, 'ca.crt');
  const caKey = join(tls.dir, 'ca.key');
  const [hasCert, hasKey, hasCa] = await Promise.all([tls.certFile, tls.keyFile, caFile].map(isFile));
  const marker = await readMarker(tls.dir);

  if (hasCert !== hasKey) {
    const [present, missing] = hasCert ? [tls.certFile, tls.keyFile] : [tls.keyFile, tls.certFile];
    throw new TelemetryError('E_TLS', `${present} is there but ${missing} is not`, {
      hint: `Put both server.crt and server.key in ${tls.dir}, or remove both to have start generate a local CA and certificate.`,
      details: { dir: tls.dir },
    });
  }

  if (hasCert) {
    const cert = await readCertificate(tls.certFile);
    const ours = marker !== undefined && marker.server === fingerprint(cert);
    if (!ours) {
      await checkKeyMatches(tls.keyFile, tls.certFile, cert);
      const warnings = warningsFor(cert, tls.certFile, now);
      // A ca.crt left from a generated set (or another CA) that did not sign this certificate: clients would refuse it.
      const single = ((await readFile(tls.certFile, 'utf8')).match(/-----BEGIN CERTIFICATE-----/g) ?? []).length === 1;
      if (hasCa && single && !cert.checkIssued(await readCertificate(caFile))) {
        warnings.push(`${tls.certFile} is not signed by ${caFile}: clients that trust ${caFile} will refuse it; put the CA that signed it there, or remove ca.crt if it is self-signed`);
      }
      return { state: 'provided', certFile: tls.certFile, keyFile: tls.keyFile, caFile: hasCa ? caFile : tls.certFile, validTo: iso(cert.validTo), warnings };
    }
    const ca = hasCa ? await readCertificate(caFile) : undefined;
    // The CA may only sign for the names it was made for: a new name means a new CA (clients trust it anew).
    const caUsable = ca !== undefined && marker.ca === fingerprint(ca) && (await isFile(caKey)) && daysLeft(ca, now) > SERVER_DAYS && names.every((n) => marker.caNames?.includes(n));
    const fresh = daysLeft(cert, now) > RENEW_BEFORE_DAYS && names.every((n) => covers(cert, n));
    if (fresh && caUsable) return { state: 'kept', certFile: tls.certFile, keyFile: tls.keyFile, caFile, validTo: iso(cert.validTo), warnings: [] };
    const renewed = await generate(tls, names, caUsable ? marker.caNames ?? names : undefined);
    return { ...renewed, state: caUsable ? 'renewed' : 'generated' };
  }

  if (hasCa) {
    throw new TelemetryError('E_TLS', `${caFile} is there but no server.crt and server.key`, {
      hint: `Put the server certificate and key that ${caFile} signed in ${tls.dir}, or remove ca.crt to have start generate all three.`,
      details: { dir: tls.dir },
    });
  }
  return { ...(await generate(tls, names, undefined)), state: 'generated' };
}

/** The sha-256 of a certificate's public key, base64: what Chromium's --ignore-certificate-errors-spki-list takes. */
export async function spkiHash(certFile: string): Promise<string> {
  const cert = await readCertificate(certFile);
  return createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
}

/**
 * Writes a server certificate for `names`, signed by the CA in place when `keptCaNames` (the names it may sign for)
 * is given, else by a new CA. A new CA is name-constrained to `names`: trusted in a browser or a system store, its
 * key (ca.key) can vouch for nothing but this stack's names.
 */
async function generate(tls: TlsSettings, names: string[], keptCaNames: string[] | undefined): Promise<Omit<CertificateReport, 'state'>> {
  const keepCa = keptCaNames !== undefined;
  await mkdir(tls.dir, { recursive: true, mode: 0o700 });
  // Built in a private folder beside the final place, then renamed in: a reader never sees half a set.
  const work = await mkdtemp(join(tls.dir, '.new-'));
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    if (!keepCa) {
      await openssl(work, 'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', String(CA_DAYS), '-sha256',
        '-subj', `/O=automagik-telemetry/CN=automagik-telemetry local CA ${randomBytes(4).toString('hex')}`,
        '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
        '-addext', `nameConstraints=critical,${names.map((n) => `permitted;${constraint(n)}`).join(',')}`);
    }
    const caDir = keepCa ? tls.dir : work;
    await openssl(work, 'req', '-new', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/O=automagik-telemetry/CN=localhost');
    const san = names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    await writeFile(join(work, 'server.ext'), `subjectAltName=${san}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`);
    await openssl(work, 'x509', '-req', '-in', 'server.csr', '-CA', join(caDir, 'ca.crt'), '-CAkey', join(caDir, 'ca.key'),
      '-set_serial', `0x${randomBytes(16).toString('hex').replace(/^[89a-f]/, '1')}`, '-days', String(SERVER_DAYS), '-sha256', '-extfile', 'server.ext', '-out', 'server.crt');
    const moves: Array<[string, number]> = [['server.key', 0o600], ['server.crt', 0o644]];
    if (!keepCa) moves.unshift(['ca.key', 0o600], ['ca.crt', 0o644]);
    for (const [file, mode] of moves) await chmod(join(work, file), mode);
    const ca = await readCertificate(join(caDir, 'ca.crt'));
    const server = await readCertificate(join(work, 'server.crt'));
    const markerText = `${JSON.stringify({ ca: fingerprint(ca), server: fingerprint(server), caNames: keptCaNames ?? names } satisfies Marker, null, 2)}\n`;
    // The marker goes first: an interrupted renewal then leaves files that the next start regenerates.
    await writeFile(join(tls.dir, MARKER), markerText, { mode: 0o600 });
    for (const [file] of moves) await rename(join(work, file), join(tls.dir, file));
    return { certFile: tls.certFile, keyFile: tls.keyFile, caFile: join(tls.dir, 'ca.crt'), validTo: iso(server.validTo), warnings: [] };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** One name as a nameConstraints subtree: a DNS name, or an address with a full-length mask. */
function constraint(name: string): string {
  if (isIP(name) === 4) return `IP:${name}/255.255.255.255`;
  if (isIP(name) === 6) return `IP:${name}/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff`;
  return `DNS:${name}`;
}

function openssl(cwd: string, ...args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, timeout: 30_000 }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(
          new TelemetryError('E_TLS', 'cannot generate the TLS certificates: the openssl command is not installed', {
            cause: error,
            hint: 'Install OpenSSL (Debian/Ubuntu: apt-get install openssl; macOS: it ships with the system), or put your own server.crt and server.key in <home>/certs/.',
          }),
        );
      }
      reject(new TelemetryError('E_TLS', `openssl ${args[0] ?? ''} failed: ${String(stderr).trim().split('\n').slice(-3).join(' ') || error.message}`, { cause: error }));
    });
  });
}

/** The user's key must be usable as is (no passphrase) and belong to the certificate: else the servers could not start. */
async function checkKeyMatches(keyFile: string, certFile: string, cert: X509Certificate): Promise<void> {
  let key;
  try {
    key = createPrivateKey(await readFile(keyFile));
  } catch (error) {
    // OpenSSL 3 reports a key that needs a passphrase as "interrupted or cancelled" (no passphrase callback).
    const encrypted = /ENCRYPTED PRIVATE KEY|Proc-Type: 4,ENCRYPTED/.test(await readFile(keyFile, 'utf8').catch(() => '')) || /passphrase|bad decrypt|interrupted or cancelled/i.test((error as Error).message);
    throw new TelemetryError('E_TLS', encrypted ? `${keyFile} is encrypted: the servers need it without a passphrase` : `${keyFile} is not a PEM private key: ${(error as Error).message}`, {
      cause: error,
      hint: encrypted ? `Write an unencrypted copy (openssl pkey -in encrypted.key -out ${keyFile}) and keep it private (chmod 600).` : 'server.key must be the PEM private key of server.crt.',
      details: { file: keyFile },
    });
  }
  if (!cert.checkPrivateKey(key)) {
    throw new TelemetryError('E_TLS', `${keyFile} is not the private key of ${certFile}`, {
      hint: 'Put the key that was made with this certificate next to it (or both new ones).',
      details: { file: keyFile, certificate: certFile },
    });
  }
}

function warningsFor(cert: X509Certificate, file: string, now: Date): string[] {
  const out: string[] = [];
  if (Date.parse(cert.validTo) <= now.getTime()) out.push(`${file} expired on ${iso(cert.validTo)}: clients will refuse it; replace it (it is yours: start does not renew it)`);
  else if (Date.parse(cert.validFrom) > now.getTime()) out.push(`${file} is not valid before ${iso(cert.validFrom)}`);
  if (!covers(cert, 'localhost')) out.push(`${file} does not name localhost in its subjectAltName: clients on this machine that connect to localhost will refuse it`);
  return out;
}

/** True when the certificate's subjectAltName lists `name` (an IP or a DNS name). */
function covers(cert: X509Certificate, name: string): boolean {
  return isIP(name) ? cert.checkIP(name) !== undefined : cert.checkHost(name, { subject: 'never' }) !== undefined;
}

function daysLeft(cert: X509Certificate, now: Date): number {
  return (Date.parse(cert.validTo) - now.getTime()) / 86_400_000;
}

function fingerprint(cert: X509Certificate): string {
  return cert.fingerprint256;
}

function iso(date: string): string {
  return new Date(date).toISOString();
}

async function readCertificate(file: string): Promise<X509Certificate> {
  const pem = await readFile(file).catch((error: NodeJS.ErrnoException) => {
    throw new TelemetryError('E_TLS', `cannot read ${file}: ${error.code ?? error.message}`, { cause: error, details: { file } });
  });
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new TelemetryError('E_TLS', `${file} is not a PEM certificate: ${(error as Error).message}`, {
      cause: error,
      hint: 'server.crt and ca.crt must be PEM ("-----BEGIN CERTIFICATE-----"); convert a DER file with `openssl x509 -inform der -in file.der -out server.crt`.',
      details: { file },
    });
  }
}

async function readMarker(dir: string): Promise<Marker | undefined> {
  try {
    const value = JSON.parse(await readFile(join(dir, MARKER), 'utf8')) as Partial<Marker>;
    return typeof value.ca === 'string' && typeof value.server === 'string' ? (value as Marker) : undefined;
  } catch {
    return undefined;
  }
}

function isFile(file: string): Promise<boolean> {
  return stat(file).then((s) => s.isFile(), () => false);
}

/** The key and certificate chain servers present: server.crt followed by ca.crt when there is one (so that a client can match the CA). */
export async function readServerMaterial(tls: TlsSettings): Promise<{ key: Buffer; cert: Buffer }> {
  const read = (file: string) =>
    readFile(file).catch((error: NodeJS.ErrnoException) => {
      throw new TelemetryError('E_TLS', `TLS is on but ${file} cannot be read: ${error.code ?? error.message}`, {
        cause: error,
        hint: 'Start through `automagik-telemetry start --tls`, which generates the certificates, or put your server.crt and server.key in <home>/certs/.',
        details: { file },
      });
    });
  const [key, cert] = await Promise.all([read(tls.keyFile), read(tls.certFile)]);
  const caFile = join(tls.dir, 'ca.crt');
  const ca = (await isFile(caFile)) ? await readFile(caFile) : undefined;
  const chain = ca === undefined || cert.includes(ca) ? cert : Buffer.concat([cert, cert.at(-1) === 0x0a ? Buffer.alloc(0) : Buffer.from('\n'), ca]);
  return { key, cert: chain };
}
