// Owns the OTLP/HTTP trace receiver: POST /v1/traces in protobuf or JSON, answers as the OTLP specification says.

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeError } from '../../../errors.js';
import { countSpans, type OtlpTraceRequest } from '../../../otlp/model.js';
import { decodeTraceRequestJson } from '../../../otlp/json.js';
import { OtlpDecodeError, decodeTraceRequest, encodeStatus, encodeTraceResponse } from '../../../otlp/protobuf.js';
import { otlpToRows } from '../../../transform/otlp-to-rows.js';
import type { TraceWriter } from '../trace-writer.js';
import { checkCredentials, hasRole, presentedCredentials, type Users } from './auth.js';
import { BodyError, readBody } from './body.js';
import { send, type LogFn } from './respond.js';

export interface OtlpHandlerOptions {
  writer: TraceWriter;
  /** Accepted users; OTLP takes the ingest and admin roles. undefined with --no-auth. */
  users: Users | undefined;
  maxBodyBytes: number;
  log: LogFn;
}

type Encoding = 'protobuf' | 'json';

// gRPC status codes used in google.rpc.Status bodies.
const GRPC = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, UNAUTHENTICATED: 16, UNAVAILABLE: 14, UNIMPLEMENTED: 12 } as const;

/** How many rejected spans the partial-success message names one by one. */
const NAMED_REJECTIONS = 5;

export function createOtlpHandler(options: OtlpHandlerOptions) {
  const { writer, users, maxBodyBytes, log } = options;

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const encoding: Encoding = /json/i.test(String(req.headers['content-type'] ?? '')) ? 'json' : 'protobuf';
    let status = 200;
    let spans = 0;
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
      if (url.pathname !== '/v1/traces') {
        await fail(404, GRPC.NOT_FOUND, `no OTLP endpoint at ${url.pathname}: this receiver takes traces at /v1/traces`);
        return;
      }
      if (req.method !== 'POST') {
        await fail(405, GRPC.UNIMPLEMENTED, `method ${String(req.method)} not allowed: POST OTLP data to /v1/traces`, { Allow: 'POST' });
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

      let request: OtlpTraceRequest;
      try {
        request = encoding === 'json' ? decodeTraceRequestJson(body.toString('utf8')) : decodeTraceRequest(body);
      } catch (error) {
        if (!(error instanceof OtlpDecodeError)) throw error;
        await fail(400, GRPC.INVALID_ARGUMENT, error.message);
        return;
      }
      spans = countSpans(request);
      const { rows, rejected: bad } = otlpToRows(request);
      rejected = bad.length;

      try {
        await writer.write(rows, `otlp-${createHash('sha256').update(body).digest('hex')}`);
      } catch (error) {
        // The rows were not stored: a retryable answer, so the exporter sends them again.
        await fail(503, GRPC.UNAVAILABLE, `spans could not be stored: ${describeError(error).split('\n')[0] ?? ''}`, { 'Retry-After': '1' });
        return;
      }

      const message =
        bad.length === 0
          ? ''
          : `${bad.length} of ${spans} spans rejected: ` +
            bad.slice(0, NAMED_REJECTIONS).map((r) => `span ${r.index} (${JSON.stringify(r.name)}): ${r.reason}`).join('; ') +
            (bad.length > NAMED_REJECTIONS ? `; and ${bad.length - NAMED_REJECTIONS} more` : '');
      if (encoding === 'json') {
        const partial = bad.length === 0 ? {} : { partialSuccess: { rejectedSpans: String(bad.length), errorMessage: message } };
        await send(res, 200, { 'Content-Type': 'application/json' }, JSON.stringify(partial));
      } else {
        await send(res, 200, { 'Content-Type': 'application/x-protobuf' }, encodeTraceResponse(bad.length, message));
      }
    } catch (error) {
      if (!res.headersSent) await fail(500, GRPC.UNAVAILABLE, `internal error: ${describeError(error)}`);
      else res.destroy();
    } finally {
      log({ level: 'debug', endpoint: 'otlp', method: req.method, path: url.pathname, status, spans, rejected, ms: Math.round(performance.now() - started) });
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
