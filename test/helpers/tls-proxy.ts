import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TlsDockerProxy {
  port: number;
  /** ca.pem, cert.pem, key.pem as a Docker context stores them for this server (client certificate included). */
  clientFiles: Record<string, string>;
  /** A CA that did not sign the server's certificate. */
  otherCa: string;
  /** The common names of the client certificates the server accepted. */
  clientsSeen(): string[];
  close(): Promise<void>;
}

/**
 * A Docker API over mutual TLS on 127.0.0.1, as `dockerd --tlsverify` serves it: requires a client certificate
 * signed by its CA and relays each request to a Docker engine's unix socket. Certificates are made with openssl.
 */
export async function startTlsDockerProxy(socketPath: string): Promise<TlsDockerProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'amt-tls-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=amt-test-ca');
  ssl('req', '-x509', ...key, '-keyout', 'other.key', '-out', 'other.pem', '-days', '1', '-subj', '/CN=amt-other-ca');
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [
    ['server', '127.0.0.1'],
    ['client', 'amt-test-client'],
  ] as const) {
    ssl('req', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`);
  }
  const read = (f: string) => readFile(join(dir, f), 'utf8');
  const [ca, serverKey, serverCert, clientKey, clientCert, otherCa] = await Promise.all(['ca.pem', 'server.key', 'server.pem', 'client.key', 'client.pem', 'other.pem'].map(read));
  await rm(dir, { recursive: true, force: true });

  const seen: string[] = [];
  const server: Server = createServer({ key: serverKey, cert: serverCert, ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const cn = (req.socket as TLSSocket).getPeerCertificate().subject?.CN;
    if (typeof cn === 'string') seen.push(cn);
    const upstream = request({ socketPath, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (error) => res.writeHead(502).end(error.message));
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    clientFiles: { 'ca.pem': ca as string, 'cert.pem': clientCert as string, 'key.pem': clientKey as string },
    otherCa: otherCa as string,
    clientsSeen: () => [...seen],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
