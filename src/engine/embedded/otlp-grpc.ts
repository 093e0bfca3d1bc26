// Owns the OTLP/gRPC receiver: the Trace, Logs and Metrics Export services on one port, with Basic auth in the
// `authorization` metadata, gzip (grpc-js decompresses), and the status codes the OTLP spec gives for retryable and
// permanent failures. Messages are handled as raw bytes and decoded by our own protobufjs codecs.

import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { describeError, TelemetryError } from '../../errors.js';
import { OtlpDecodeError, SIGNAL_INFO, SIGNALS, encodeExportResponse, grpcExportPath, type Signal } from '../../otlp/types.js';
import { portInUse } from '../ports.js';
import { basicAuthorization } from '../../clickhouse/auth-header.js';
import { checkCredentials, hasRole, presentedCredentials, type Credentials, type Users } from './http/auth.js';
import type { LogFn } from './http/respond.js';
import { decodeExport, rejectionMessage, store } from './otlp-intake.js';
import type { TableWriter } from './table-writer.js';

export interface GrpcReceiverOptions {
  writer: TableWriter;
  /** Accepted users; OTLP takes the ingest and admin roles. undefined with --no-auth. */
  users: Users | undefined;
  maxBodyBytes: number;
  log: LogFn;
}

const raw = (b: Buffer): Buffer => b;
const bytesOut = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** The Export method of one signal's service, with requests left as bytes for our decoder (and the body hash). */
function exportService(signal: Signal): grpc.ServiceDefinition {
  return {
    Export: {
      path: grpcExportPath(signal),
      requestStream: false,
      responseStream: false,
      requestSerialize: raw,
      requestDeserialize: raw,
      responseSerialize: bytesOut,
      responseDeserialize: raw,
    },
  };
}

function failure(code: grpc.status, details: string): Partial<grpc.StatusObject> {
  return { code, details, metadata: new grpc.Metadata() };
}

export function createGrpcReceiver(options: GrpcReceiverOptions): grpc.Server {
  const { writer, users, log } = options;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxBodyBytes,
    'grpc.max_send_message_length': 4 * 1024 * 1024,
  });
  for (const signal of SIGNALS) {
    const handler: grpc.handleUnaryCall<Buffer, Uint8Array> = (call, callback) => {
      const started = performance.now();
      let code: grpc.status = grpc.status.OK;
      const done = (error: Partial<grpc.StatusObject> | null, response?: Uint8Array) => {
        code = error?.code ?? grpc.status.OK;
        if (error) log({ level: 'warn', endpoint: 'otlp-grpc', signal, code, error: error.details });
        callback(error, response);
      };
      void (async () => {
        const presented = String(call.metadata.get('authorization')[0] ?? '');
        const auth = checkCredentials(presentedCredentials({ headers: presented === '' ? {} : { authorization: presented } } as IncomingMessage), users);
        if (auth.ok && !hasRole(auth, ['ingest', 'admin'])) {
          return done(failure(grpc.status.PERMISSION_DENIED, `user ${auth.username} (${auth.role} role) may not send telemetry: use the ingest credential that \`automagik-telemetry env\` prints`));
        }
        if (!auth.ok) {
          return done(failure(grpc.status.UNAUTHENTICATED, auth.reason === 'missing' ? 'authentication required: send "authorization: Basic …" metadata' : `authentication failed for user ${auth.username ?? ''}`));
        }
        let decoded;
        try {
          decoded = decodeExport(signal, call.request, 'protobuf');
        } catch (error) {
          if (error instanceof OtlpDecodeError) return done(failure(grpc.status.INVALID_ARGUMENT, error.message));
          throw error;
        }
        try {
          await store(writer, decoded, call.request);
        } catch (error) {
          // Not stored: UNAVAILABLE is retryable in the OTLP spec, so the exporter sends it again.
          return done(failure(grpc.status.UNAVAILABLE, `${SIGNAL_INFO[signal].items} could not be stored: ${describeError(error).split('\n')[0] ?? ''}`));
        }
        done(null, encodeExportResponse(signal, decoded.rejected.length, rejectionMessage(signal, decoded)));
      })()
        .catch((error: unknown) => done(failure(grpc.status.INTERNAL, `internal error: ${describeError(error)}`)))
        .finally(() => log({ level: 'debug', endpoint: 'otlp-grpc', signal, code, ms: Math.round(performance.now() - started) }));
    };
    server.addService(exportService(signal), { Export: handler });
  }
  return server;
}

/** Binds the receiver; a taken port is reported like the HTTP servers' (E_PORT_IN_USE naming the holder). */
export function bindGrpc(server: grpc.Server, host: string, port: number, tls?: { key: Buffer; cert: Buffer }): Promise<void> {
  const credentials = tls ? grpc.ServerCredentials.createSsl(null, [{ private_key: tls.key, cert_chain: tls.cert }], false) : grpc.ServerCredentials.createInsecure();
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, credentials, (error) => {
      if (!error) return resolve();
      if (/EADDRINUSE|address already in use/i.test(error.message)) {
        void portInUse('OTLP/gRPC', port, host, error).then(reject);
        return;
      }
      reject(new TelemetryError('E_ENGINE_START', `cannot listen on ${host}:${port} (OTLP/gRPC): ${error.message}`, { cause: error }));
    });
  });
}

/** Stops taking calls and lets those under way finish (bounded, then forced). */
export function closeGrpc(server: grpc.Server, graceMs = 5_000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Health probe: an empty logs Export over gRPC, answered OK by a receiver that takes these credentials. */
export function probeGrpc(host: string, port: number, credentials: Credentials | undefined, timeoutMs = 3_000, ca?: Buffer): Promise<string> {
  // With TLS, the channel trusts the stack's CA only (ca given) and checks the name "localhost" or the address.
  // An address is no TLS server name (RFC 6066): the certificate is checked for "localhost", which every one we generate lists.
  const named = ca && isIP(host) ? { 'grpc.ssl_target_name_override': 'localhost' } : {};
  const client = new grpc.Client(`${host.includes(':') ? `[${host}]` : host}:${port}`, ca ? grpc.credentials.createSsl(ca) : grpc.credentials.createInsecure(), named);
  const metadata = new grpc.Metadata();
  if (credentials) metadata.set('authorization', basicAuthorization(credentials));
  return new Promise<string>((resolve, reject) => {
    client.makeUnaryRequest(
      grpcExportPath('logs'),
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
      metadata,
      { deadline: Date.now() + timeoutMs },
      (error) => (error ? reject(new Error(`${grpc.status[error.code]}: ${error.details}`)) : resolve('Export answers OK')),
    );
  }).finally(() => client.close());
}
