// Owns one running embedded engine in this process: the chDB database, the schema, the HTTP servers and the OTLP/gRPC receiver.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { connectionFor } from '../../clickhouse/connection.js';
import { ROLES, type Config } from '../../config/index.js';
import { TelemetryError } from '../../errors.js';
import { applySchema } from '../../schema/index.js';
import { EmbeddedDatabase } from './database.js';
import { createClickHouseHandler } from './http/clickhouse-handler.js';
import { createDashboardHandler } from './http/dashboard-handler.js';
import { createOtlpHandler } from './http/otlp-handler.js';
import type { Users } from './http/auth.js';
import { AccessGate } from './access/gate.js';
import type { LogFn } from './http/respond.js';
import { portInUse } from '../ports.js';
import { lockDataDir } from './lock.js';
import { bindGrpc, closeGrpc, createGrpcReceiver } from './otlp-grpc.js';
import { TableWriter } from './table-writer.js';

export interface RunningEmbeddedServer {
  readonly schemaVersion: number;
  /** How inserts were batched so far: requests, batches written, requests found stored already. */
  ingestCounters(): { requests: number; batches: number; deduplicated: number };
  /** Stops taking requests, lets those under way finish, stores what is waiting, closes the database. */
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export async function startEmbeddedServer(config: Config, log: LogFn = () => undefined): Promise<RunningEmbeddedServer> {
  const users = config.auth.required ? engineUsers(config) : undefined;

  const lock = await lockDataDir(join(config.paths.runDir, 'data.lock'), config.paths.dataDir);
  let db: EmbeddedDatabase | undefined;
  const servers: Server[] = [];
  let grpcServer: ReturnType<typeof createGrpcReceiver> | undefined;
  const inFlight = new Set<Promise<void>>();
  try {
    db = await EmbeddedDatabase.open(config.paths.dataDir);
    const schema = await applySchema(db, config.database);
    log({ level: 'info', msg: 'schema ready', version: schema.version, applied: schema.applied });
    const recovered = await db.batchInserts(join(config.paths.dataDir, 'ingest-journal'), config.ingest, config.ingest.dedupWindow);
    if (recovered > 0) log({ level: 'info', msg: 'stored the batches a crash had left in the journal', batches: recovered });

    const writer = new TableWriter({ db, database: config.database });
    const gate = new AccessGate(db, config.database);
    const track = (handler: Handler) => (req: IncomingMessage, res: ServerResponse) => {
      const work = handler(req, res).catch((error: unknown) => {
        log({ level: 'error', msg: 'unhandled request error', error: String(error) });
        if (!res.headersSent) res.writeHead(500).end();
      });
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work));
    };
    const common = { users, maxBodyBytes: config.maxBodyBytes, log };
    servers.push(await listen(track(createClickHouseHandler({ ...common, db, gate })), config.host, config.ports.clickhouse, 'ClickHouse HTTP'));
    servers.push(await listen(track(createOtlpHandler({ ...common, writer })), config.host, config.ports.otlp, 'OTLP/HTTP'));
    grpcServer = createGrpcReceiver({ ...common, writer });
    await bindGrpc(grpcServer, config.host, config.ports.otlpGrpc);
    const connection = connectionFor(config, 'reader', 30_000);
    servers.push(await listen(track(createDashboardHandler({ connection, database: config.database, users, log })), config.host, config.ports.dashboard, 'dashboard'));
    log({ level: 'info', msg: 'listening', host: config.host, clickhousePort: config.ports.clickhouse, otlpPort: config.ports.otlp, otlpGrpcPort: config.ports.otlpGrpc, dashboardPort: config.ports.dashboard });

    const database = db;
    const grpcReceiver = grpcServer;
    let closing: Promise<void> | undefined;
    return {
      schemaVersion: schema.version,
      ingestCounters: () => database.batchCounters() ?? { requests: 0, batches: 0, deduplicated: 0 },
      close: () =>
        (closing ??= (async () => {
          // A streamed result would keep its connection open for as long as the query runs.
          database.stopStreams();
          await Promise.all([...servers.map(closeServer), closeGrpc(grpcReceiver)]);
          await Promise.allSettled([...inFlight]);
          await writer.drain();
          await gate.close();
          await database.close();
          await lock.release();
          log({ level: 'info', msg: 'stopped' });
        })()),
    };
  } catch (error) {
    await Promise.all(servers.map(closeServer));
    if (grpcServer) grpcServer.forceShutdown();
    await db?.close();
    await lock.release();
    throw error;
  }
}

/** The three roles' users, each with its password; every role needs one (start generates them into <home>/.env). */
function engineUsers(config: Config): Users {
  return ROLES.map((role) => {
    const { username, password } = config.auth.roles[role];
    if (password === undefined) {
      throw new TelemetryError('E_CONFIG', `no password is configured for the ${role} role (user ${username})`, {
        hint: 'Start through `automagik-telemetry start`, which generates one into <home>/.env, or pass --no-auth.',
      });
    }
    return { role, username, password };
  });
}

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, host: string, port: number, service: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ keepAliveTimeout: 5_000, requestTimeout: 300_000 }, handler);
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') {
        // Taken between start's check and this listen.
        void portInUse(service, port, host, error).then(reject);
      } else {
        reject(new TelemetryError('E_ENGINE_START', `cannot listen on ${host}:${port} (${service}): ${error.message}`, { cause: error }));
      }
    });
    server.listen(port, host, () => resolve(server));
  });
}

/** Stops accepting, and closes each keep-alive connection as soon as its last response is written. */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const sweeper = setInterval(() => server.closeIdleConnections(), 20);
    server.close(() => {
      clearInterval(sweeper);
      resolve();
    });
    server.closeIdleConnections();
  });
}
