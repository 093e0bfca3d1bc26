// Owns one HTTP POST for the SDK: optional gzip, a timeout, and network failures as a retryable result.

import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { TelemetryError } from '../../errors.js';
import { isTlsFailure, trustedFetch, type Trust } from '../../tls/fetch.js';
import { parseRetryAfter } from './retrying.js';
import type { Backend, Batch, Export, ExportResult, HttpAnswer } from './types.js';

const gzipAsync = promisify(gzip);

export interface TransportOptions {
  timeoutMs: number;
  compression: boolean;
  /** The CA an https endpoint is verified against (the SDK's ca / caFile, or the local stack's). */
  trust?: Trust;
}

/** POSTs `body`; a network failure (refused, reset, timeout) comes back as a string, never thrown. */
export async function post(url: string, body: Uint8Array, headers: Record<string, string>, options: TransportOptions): Promise<HttpAnswer | string> {
  const payload = options.compression ? await gzipAsync(body) : body;
  // A timer of our own, not AbortSignal.timeout(): that one is unref'd, and a request whose socket the server
  // dropped mid-body can leave fetch waiting with nothing else holding the event loop (the process then exits
  // with a top-level await unfinished). This one holds the loop and ends the wait.
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  try {
    let res: Response;
    try {
      res = await trustedFetch(
        url,
        {
          method: 'POST',
          body: payload,
          headers: { ...headers, ...(options.compression ? { 'Content-Encoding': 'gzip' } : {}) },
          signal: controller.signal,
        },
        options.trust,
      );
    } catch (error) {
      // An untrusted certificate: its own words (endpoint and CA file); sending again cannot help.
      if (isTlsFailure(error)) throw error;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = timedOut ? `no answer within ${options.timeoutMs} ms` : (cause?.code ?? cause?.message ?? (error as Error).message);
      return `cannot reach ${where(url)}: ${reason}`;
    }
    try {
      const bytes = new Uint8Array(await res.arrayBuffer());
      return { status: res.status, body: bytes, retryAfterMs: parseRetryAfter(res.headers.get('retry-after')) };
    } catch (error) {
      return `connection to ${where(url)} broke while reading the answer: ${timedOut ? `no answer within ${options.timeoutMs} ms` : (error as Error).message}`;
    }
  } finally {
    clearTimeout(timer);
  }
}

/** serializer -> transport -> the backend's reading of the answer: one attempt at one batch. */
export function httpExport(backend: Backend, options: TransportOptions): Export {
  return async (batch: Batch): Promise<ExportResult> => {
    let request;
    try {
      request = backend.serialize(batch);
    } catch (error) {
      return { code: 'failed', error: new TelemetryError(backend.name === 'otlp' ? 'E_OTLP' : 'E_CLICKHOUSE', `cannot encode a batch: ${(error as Error).message}`, { cause: error }) };
    }
    let answer;
    try {
      answer = await post(request.url, request.body, request.headers, options);
    } catch (error) {
      if (isTlsFailure(error)) return { code: 'failed', error: error as TelemetryError };
      throw error;
    }
    if (typeof answer === 'string') return { code: 'retryable', error: new TelemetryError(backend.name === 'otlp' ? 'E_OTLP' : 'E_CLICKHOUSE', answer) };
    return backend.interpret(answer, batch);
  };
}

/** The URL without its query string (which may hold a long INSERT statement). */
function where(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname === '/' ? '' : parsed.pathname}`;
}
