// Owns reaching an https endpoint that a private CA signed: fetch's interface over node:https with that CA, and a
// certificate the client does not trust turned into an E_TLS error naming the endpoint and the CA file.

import { readFileSync, statSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { Readable } from 'node:stream';
import { TelemetryError } from '../errors.js';

/** The CA a client trusts for a stack: a PEM file (named in errors) or PEM text given in code. */
export interface Trust {
  caFile?: string;
  /** PEM text; wins over caFile. */
  ca?: string | Uint8Array;
}

/** The OpenSSL verification failures that mean "this client does not trust that certificate". */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/**
 * fetch(), except that an https URL is verified against `trust` (the system's CAs when it names none) and a TLS
 * failure throws E_TLS in words. http URLs go to the global fetch unchanged.
 */
export async function trustedFetch(input: string | URL, init: RequestInit = {}, trust: Trust = {}): Promise<Response> {
  const url = new URL(input);
  if (url.protocol !== 'https:') return fetch(url, init);
  const agent = agentFor(trust, url);
  return new Promise<Response>((resolve, reject) => {
    const headers = new Headers(init.headers);
    const outgoing: Record<string, string> = {};
    headers.forEach((value, key) => (outgoing[key] = value));
    const body = bodyBytes(init.body);
    if (body !== undefined) outgoing['content-length'] = String(body.byteLength);
    const req = request(url, { method: init.method ?? 'GET', headers: outgoing, agent, ...(init.signal ? { signal: init.signal } : {}) }, (res) => {
      const answer = new Headers();
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) answer.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string);
      const status = res.statusCode ?? 502;
      const empty = status === 204 || status === 304 || init.method === 'HEAD';
      if (empty) res.resume();
      const stream = empty ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
      resolve(new Response(stream, { status, statusText: res.statusMessage ?? '', headers: answer }));
    });
    req.once('error', (error) => reject(tlsFailure(error, url, trust)));
    req.end(body);
  });
}

/** A TLS verification failure as E_TLS naming the endpoint and the CA; any other error unchanged. */
export function tlsFailure(error: unknown, url: URL | string, trust: Trust = {}): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? (error as { cause?: { code?: string } } | undefined)?.cause?.code ?? '';
  const endpoint = new URL(url).origin;
  const ca = trust.ca !== undefined ? 'the CA given in code (option ca)' : trust.caFile !== undefined ? `the CA file ${trust.caFile}` : "the system's trusted CAs";
  if (UNTRUSTED.has(code)) {
    return new TelemetryError('E_TLS', `the certificate of ${endpoint} is not signed by ${ca} (${code})`, {
      cause: error,
      hint:
        trust.caFile !== undefined || trust.ca !== undefined
          ? `Trust the CA that signed the stack's certificate: <home>/certs/ca.crt of the stack you mean (AUTOMAGIK_TELEMETRY_CA_FILE), or the home it was started with (--home).`
          : `The stack uses its own CA: set AUTOMAGIK_TELEMETRY_CA_FILE (or the SDK's caFile option) to its <home>/certs/ca.crt; \`automagik-telemetry env\` prints it.`,
      details: { endpoint, ...(trust.caFile !== undefined ? { caFile: trust.caFile } : {}), reason: code },
    });
  }
  if (EXPIRED.has(code)) {
    return new TelemetryError('E_TLS', `the certificate of ${endpoint} is outside its validity period (${code})`, {
      cause: error,
      hint: 'A generated certificate is renewed by the next `automagik-telemetry start`; replace a certificate you provided in <home>/certs/.',
      details: { endpoint, reason: code },
    });
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new TelemetryError('E_TLS', `the certificate of ${endpoint} is not issued for ${new URL(url).hostname}: ${(error as Error).message}`, {
      cause: error,
      hint: 'Reach the stack by a name its certificate lists (localhost, 127.0.0.1), or add this name to server.crt\'s subjectAltName.',
      details: { endpoint, reason: code },
    });
  }
  if (code === 'EPROTO' || code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/i.test((error as Error)?.message ?? '')) {
    return new TelemetryError('E_TLS', `${endpoint} does not speak TLS (${code || 'wrong version number'})`, {
      cause: error,
      hint: 'The stack there was started without --tls: use http://, or start it with --tls.',
      details: { endpoint, reason: code },
    });
  }
  return error;
}

/** True when `error` is a TLS verification failure (retrying cannot help). */
export function isTlsFailure(error: unknown): boolean {
  return error instanceof TelemetryError && error.code === 'E_TLS';
}

const agents = new Map<string, { stamp: string; agent: Agent }>();

/** One keep-alive agent per CA (a CA file read again when it changes on disk, as a restart that renews it does). */
function agentFor(trust: Trust, url: URL): Agent {
  let key: string;
  let stamp: string;
  let ca: string | Buffer | undefined;
  if (trust.ca !== undefined) {
    ca = typeof trust.ca === 'string' ? trust.ca : Buffer.from(trust.ca);
    key = `pem:${ca.toString()}`;
    stamp = '';
  } else if (trust.caFile !== undefined) {
    key = `file:${trust.caFile}`;
    try {
      const s = statSync(trust.caFile);
      stamp = `${s.mtimeMs}:${s.size}`;
    } catch (error) {
      throw caUnreadable(trust.caFile, url, error);
    }
  } else {
    key = 'system';
    stamp = '';
  }
  const cached = agents.get(key);
  if (cached && cached.stamp === stamp) return cached.agent;
  if (trust.ca === undefined && trust.caFile !== undefined) {
    try {
      ca = readFileSync(trust.caFile);
    } catch (error) {
      throw caUnreadable(trust.caFile, url, error);
    }
  }
  cached?.agent.destroy();
  const agent = new Agent({ keepAlive: true, ...(ca !== undefined ? { ca } : {}) });
  agents.set(key, { stamp, agent });
  return agent;
}

function caUnreadable(file: string, url: URL, error: unknown): TelemetryError {
  return new TelemetryError('E_TLS', `cannot read the CA file ${file} to reach ${url.origin}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, {
    cause: error,
    hint: 'Point AUTOMAGIK_TELEMETRY_CA_FILE (or the SDK\'s caFile option) at the stack\'s <home>/certs/ca.crt; `automagik-telemetry start --tls` creates it.',
    details: { caFile: file, endpoint: url.origin },
  });
}

function bodyBytes(body: RequestInit['body']): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  throw new TypeError('trustedFetch sends string or byte bodies only');
}
