// Owns writing a streamed query result to an HTTP response: chunks as they come, only as fast as the client reads,
// and a failure after the first byte told the way ClickHouse (25.11+) tells it, at the end of the body.

import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { toClickHouseError, type ClickHouseError } from '../../../clickhouse/errors.js';
import type { ResultStream } from '../result-stream.js';

export interface StreamedOutcome {
  bytes: number;
  /** The error that ended the body early, if any (already written into it). */
  error?: ClickHouseError;
  /** The client went away before the end. */
  aborted: boolean;
}

/**
 * Sends status 200 with `headers`, then every chunk. A query failing part way ends the body with ClickHouse's tagged
 * exception block (the tag is in X-ClickHouse-Exception-Tag, so clients such as @clickhouse/client raise the error
 * instead of taking the rows so far for the whole result); a client that disconnects cancels the query.
 */
/** How long a client may take nothing before the response is dropped (ClickHouse's http_send_timeout default). */
export const SEND_TIMEOUT_MS = 30_000;

export async function sendStream(
  res: ServerResponse,
  headers: Record<string, string>,
  result: ResultStream,
  gzip: boolean,
  sendTimeoutMs = SEND_TIMEOUT_MS,
): Promise<StreamedOutcome> {
  const tag = randomBytes(8).toString('hex');
  const out: Record<string, string> = { ...headers, 'X-ClickHouse-Exception-Tag': tag };
  if (gzip) out['Content-Encoding'] = 'gzip';
  res.writeHead(200, out);
  const sink: Writable = gzip ? createGzip() : res;
  if (gzip) sink.pipe(res);

  let aborted = false;
  let wake: (() => void) | undefined;
  const onClose = () => {
    if (!res.writableFinished) aborted = true;
    result.cancel();
    wake?.();
  };
  const onDrain = () => wake?.();
  res.on('close', onClose);
  sink.on('drain', onDrain);
  // The engine is stopping: a client that keeps up gets the exception block from rest(); one that does not is dropped.
  let halted = false;
  void result.halted.then(() => {
    halted = true;
    if (wake) {
      aborted = true;
      res.destroy();
      wake();
    }
  });
  // Resolves when the sink takes more, or the client is gone; a client that reads nothing for sendTimeoutMs is dropped,
  // so a stalled reader neither keeps its query nor holds the engine's shutdown.
  const writable = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        aborted = true;
        res.destroy();
        resolve();
      }, sendTimeoutMs);
      wake = () => {
        wake = undefined;
        clearTimeout(timer);
        resolve();
      };
      if (halted) {
        aborted = true;
        res.destroy();
        wake();
      }
    });

  let bytes = 0;
  let error: ClickHouseError | undefined;
  try {
    const write = async (chunk: Uint8Array) => {
      bytes += chunk.length;
      if (!sink.write(chunk) && !aborted) await writable();
    };
    if (result.first) await write(result.first);
    if (!aborted) {
      try {
        for await (const chunk of result.rest()) {
          await write(chunk);
          if (aborted) break;
        }
      } catch (thrown) {
        error = toClickHouseError(thrown);
        if (!aborted) {
          if (gzip) await new Promise<void>((resolve) => (sink as ReturnType<typeof createGzip>).flush(resolve));
          sink.write(exceptionBlock(error, tag));
        }
      }
    }
  } finally {
    result.cancel();
    sink.off('drain', onDrain);
    if (aborted) sink.destroy();
    else await new Promise<void>((resolve) => sink.end(resolve));
    if (gzip && !aborted) await new Promise<void>((resolve) => (res.writableFinished ? resolve() : res.once('finish', resolve).once('close', resolve)));
    res.off('close', onClose);
  }
  return { bytes, aborted, ...(error ? { error } : {}) };
}

/**
 * ClickHouse's block for an exception after the response started: marker, tag, the message, then its length and the
 * tag again, so a reader can find it from the end of the body. The length counts the message's closing newline.
 */
export function exceptionBlock(error: ClickHouseError, tag: string): Buffer {
  const message = error.toHttpBody().replace(/\n+$/, '');
  return Buffer.from(`\r\n__exception__\r\n${tag}\r\n${message}\n${Buffer.byteLength(message) + 1} ${tag}\r\n__exception__\r\n`);
}
