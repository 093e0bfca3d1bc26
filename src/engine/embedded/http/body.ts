// Owns reading a request body: a size limit before and after decompression, and gzip/deflate/zstd-free decoding.

import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import { gunzip, inflate } from 'node:zlib';

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

export type BodyProblem = 'too_large' | 'bad_encoding' | 'unsupported_encoding' | 'aborted';

export class BodyError extends Error {
  constructor(
    readonly problem: BodyProblem,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'BodyError';
  }
}

/** Reads the whole body, refusing more than `limit` bytes on the wire or after decompression. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    throw new BodyError('too_large', `request body of ${declared} bytes is over the limit of ${limit} bytes`, 413);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyError('too_large', `request body is over the limit of ${limit} bytes`, 413));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve());
    req.on('error', (error) => reject(new BodyError('aborted', `request body could not be read: ${error.message}`, 400)));
    req.on('aborted', () => reject(new BodyError('aborted', 'the client aborted the request', 400)));
  });
  const raw = Buffer.concat(chunks, size);
  return decode(raw, String(req.headers['content-encoding'] ?? '').trim().toLowerCase(), limit);
}

async function decode(raw: Buffer, encoding: string, limit: number): Promise<Buffer> {
  if (encoding === '' || encoding === 'identity' || raw.length === 0) return raw;
  const inflater = encoding === 'gzip' || encoding === 'x-gzip' ? gunzipAsync : encoding === 'deflate' ? inflateAsync : undefined;
  if (!inflater) {
    throw new BodyError('unsupported_encoding', `Content-Encoding "${encoding}" is not supported (use gzip, deflate or none)`, 415);
  }
  try {
    return await inflater(raw, { maxOutputLength: limit });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new BodyError('too_large', `request body is over the limit of ${limit} bytes once decompressed`, 413);
    }
    throw new BodyError('bad_encoding', `request body is not valid ${encoding}: ${(error as Error).message}`, 400);
  }
}
