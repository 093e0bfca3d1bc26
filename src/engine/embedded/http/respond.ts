// Owns writing HTTP responses: optional gzip, and a small request log line with no secrets in it.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);

export type LogFn = (fields: Record<string, unknown>) => void;

export function acceptsGzip(req: IncomingMessage): boolean {
  return /\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? ''));
}

/** Sends a complete body; compresses it when asked to and the client accepts gzip. */
export async function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: Uint8Array | string,
  compress = false,
): Promise<void> {
  let payload: Uint8Array = typeof body === 'string' ? Buffer.from(body) : body;
  const out: Record<string, string> = { ...headers };
  if (compress && payload.length > 0) {
    payload = await gzipAsync(payload);
    out['Content-Encoding'] = 'gzip';
  }
  out['Content-Length'] = String(payload.length);
  res.writeHead(status, out);
  res.end(payload);
}
