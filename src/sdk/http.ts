// Owns one HTTP POST for the SDK: optional gzip, a timeout, and network failures turned into retryable SendErrors.

import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { SendError, parseRetryAfter } from './retry.js';
import { basicAuthorization } from '../clickhouse/auth-header.js';

const gzipAsync = promisify(gzip);

export interface PostResult {
  status: number;
  headers: Headers;
  body: Uint8Array;
  retryAfterMs: number | undefined;
}

export async function post(url: string, body: Uint8Array, headers: Record<string, string>, options: { timeoutMs: number; compression: boolean }): Promise<PostResult> {
  const payload = options.compression ? await gzipAsync(body) : body;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      body: payload,
      headers: { ...headers, ...(options.compression ? { 'Content-Encoding': 'gzip' } : {}) },
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason =
      (error as Error).name === 'TimeoutError' ? `no answer within ${options.timeoutMs} ms` : (cause?.code ?? cause?.message ?? (error as Error).message);
    throw new SendError(`cannot reach ${where(url)}: ${reason}`, true, undefined, undefined, { cause: error });
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (error) {
    throw new SendError(`connection to ${where(url)} broke while reading the answer: ${(error as Error).message}`, true, undefined, undefined, { cause: error });
  }
  return { status: res.status, headers: res.headers, body: bytes, retryAfterMs: parseRetryAfter(res.headers.get('retry-after')) };
}

/** The URL without its query string (which may hold a long INSERT statement). */
function where(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname === '/' ? '' : parsed.pathname}`;
}

export function basicAuth(username: string, password: string): string {
  return basicAuthorization({ username, password });
}
