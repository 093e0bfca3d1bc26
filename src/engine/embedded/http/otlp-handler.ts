// Owns the OTLP/HTTP receiver: POST /v1/traces, /v1/logs and /v1/metrics in protobuf or JSON, answered as the OTLP
// specification says (partial success, google.rpc.Status bodies, retryable 503 when the store fails).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeError } from '../../../errors.js';
import { encodeStatus } from '../../../otlp/protobuf.js';
import { OtlpDecodeError, SIGNAL_INFO, SIGNALS, encodeExportResponse, type Signal } from '../../../otlp/types.js';
import { decodeExport, rejectionMessage, store, type Decoded, type Encoding } from '../otlp-intake.js';
import type { TableWriter } from '../table-writer.js';
import { checkCredentials, hasRole, presentedCredentials, type Users } from './auth.js';
import { BodyError, readBody } from './body.js';
import { send, type LogFn } from './respond.js';

export interface OtlpHandlerOptions {
  writer: TableWriter;
  /** Accepted users; OTLP takes the ingest and admin roles. undefined with --no-auth. */
  users: Users | undefined;
  maxBodyBytes: number;
  log: LogFn;
}

const SIGNAL_BY_PATH = new Map<string, Signal>(SIGNALS.map((signal) => [SIGNAL_INFO[signal].path, signal]));
const PATHS = SIGNALS.map((signal) => SIGNAL_INFO[signal].path).join(', ');

// gRPC status codes used in google.rpc.Status bodies.
const GRPC = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, UNAUTHENTICATED: 16, UNAVAILABLE: 14, UNIMPLEMENTED: 12 } as const;

export function createOtlpHandler(options: OtlpHandlerOptions) {
  const { writer, users, maxBodyBytes, log } = options;

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const encoding: Encoding = /json/i.test(String(req.headers['content-type'] ?? '')) ? 'json' : 'protobuf';
    let status = 200;
    let items = 0;
    let rejected = 0;
    const fail = async (httpStatus: number, grpcCode: number, message: string, extra: Record<string, string> = {}) => {
      status = httpStatus;
      log({ level: 'warn', endpoint: 'otlp', status, error: message });
      await sendStatus(res, encoding, httpStatus, grpcCode, message, extra);
    };
    try {
      if (url.pathname === '/health' && req.method === 'GET') {
        await send(res, 200, { 'Content-Type': 'application/json' }, '{"status":"ok"}\n');
        return;
      }
      const signal = SIGNAL_BY_PATH.get(url.pathname);
      if (signal === undefined) {
        await fail(404, GRPC.NOT_FOUND, `no OTLP endpoint at ${url.pathname}: this receiver takes ${PATHS}`);
        return;
      }
      if (req.method !== 'POST') {
        await fail(405, GRPC.UNIMPLEMENTED, `method ${String(req.method)} not allowed: POST OTLP data to ${url.pathname}`, { Allow: 'POST' });
        return;
      }
      const auth = checkCredentials(presentedCredentials(req), users);
      if (auth.ok && !hasRole(auth, ['ingest', 'admin'])) {
        await fail(403, GRPC.PERMISSION_DENIED, `user ${auth.username} (${auth.role} role) may not send telemetry: use the ingest credential that \`automagik-telemetry env\` prints`);
        return;
      }
      if (!auth.ok) {
        await fail(401, GRPC.UNAUTHENTICATED, auth.reason === 'missing' ? 'authentication required: send HTTP basic auth' : `authentication failed for user ${auth.username ?? ''}`, {
          'WWW-Authenticate': 'Basic realm="automagik-telemetry", charset="UTF-8"',
        });
        return;
      }
      const contentType = String(req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      if (contentType !== 'application/x-protobuf' && contentType !== 'application/json') {
        req.resume();
        await fail(415, GRPC.INVALID_ARGUMENT, `unsupported Content-Type "${contentType}": send application/x-protobuf or application/json`);
        return;
      }

      let body: Buffer;
      try {
        body = await readBody(req, maxBodyBytes);
      } catch (error) {
        if (!(error instanceof BodyError)) throw error;
        await fail(error.status, error.status === 413 ? GRPC.RESOURCE_EXHAUSTED : GRPC.INVALID_ARGUMENT, error.message, error.status === 413 ? { Connection: 'close' } : {});
        return;
      }

      let decoded: Decoded;
      try {
        decoded = decodeExport(signal, body, encoding);
      } catch (error) {
        if (!(error instanceof OtlpDecodeError)) throw error;
        await fail(400, GRPC.INVALID_ARGUMENT, error.message);
        return;
      }
      items = decoded.total;
      rejected = decoded.rejected.length;

      try {
        await store(writer, decoded, body);
      } catch (error) {
        // The rows were not stored: a retryable answer, so the exporter sends them again.
        await fail(503, GRPC.UNAVAILABLE, `${SIGNAL_INFO[signal].items} could not be stored: ${describeError(error).split('\n')[0] ?? ''}`, { 'Retry-After': '1' });
        return;
      }

      const message = rejectionMessage(signal, decoded);
      if (encoding === 'json') {
        const partial = rejected === 0 ? {} : { partialSuccess: { [SIGNAL_INFO[signal].rejectedField]: String(rejected), errorMessage: message } };
        await send(res, 200, { 'Content-Type': 'application/json' }, JSON.stringify(partial));
      } else {
        await send(res, 200, { 'Content-Type': 'application/x-protobuf' }, encodeExportResponse(signal, rejected, message));
      }
    } catch (error) {
      if (!res.headersSent) await fail(500, GRPC.UNAVAILABLE, `internal error: ${describeError(error)}`);
      else res.destroy();
    } finally {
      log({ level: 'debug', endpoint: 'otlp', method: req.method, path: url.pathname, status, items, rejected, ms: Math.round(performance.now() - started) });
    }
  };
}

async function sendStatus(
  res: ServerResponse,
  encoding: Encoding,
  httpStatus: number,
  grpcCode: number,
  message: string,
  extra: Record<string, string>,
): Promise<void> {
  if (encoding === 'json') {
    await send(res, httpStatus, { ...extra, 'Content-Type': 'application/json' }, JSON.stringify({ code: grpcCode, message }));
  } else {
    await send(res, httpStatus, { ...extra, 'Content-Type': 'application/x-protobuf' }, encodeStatus(grpcCode, message));
  }
}
