// Owns one running embedded engine in this process: the chDB database, the schema, the HTTP servers and the OTLP/gRPC receiver.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { join } from 'node:path';
import { connectionFor } from '../../clickhouse/connection.js';
import { ROLES, type Config } from '../../config/index.js';
import { TelemetryError } from '../../errors.js';
import { applySchema } from '../../schema/index.js';
import { applyRetention, retentionRunner } from '../../schema/retention.js';
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
import { RollupKeeper, type RollupKeeperStats } from './rollup-keeper.js';
import { readServerMaterial } from '../../tls/certs.js';
import { DiskWatch } from './disk-watch.js';

export interface RunningEmbeddedServer {
  readonly schemaVersion: number;
  /** How inserts were batched so far: requests, batches written, requests found stored already. */
  ingestCounters(): { requests: number; batches: number; deduplicated: number };
  /** How the hourly rollups were kept so far. */
  rollupCounters(): RollupKeeperStats;
  /** Stops taking requests, lets those under way finish, stores what is waiting, closes the database. */
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export async function startEmbeddedServer(config: Config, log: LogFn = () => undefined): Promise<RunningEmbeddedServer> {
  const users = config.auth.required ? engineUsers(config) : undefined;
  // With TLS on, every port presents <home>/certs/server.crt (its chain with ca.crt).
  const tls = config.tls.enabled ? await readServerMaterial(config.tls) : undefined;

  const lock = await lockDataDir(join(config.paths.runDir, 'data.lock'), config.paths.dataDir);
  let db: EmbeddedDatabase | undefined;
  let keeper: RollupKeeper | undefined;
  let watch: DiskWatch | undefined;
  const servers: Server[] = [];
  let grpcServer: ReturnType<typeof createGrpcReceiver> | undefined;
  const inFlight = new Set<Promise<void>>();
  try {
    db = await EmbeddedDatabase.open(config.paths.dataDir);
    const schema = await applySchema(retentionRunner(db, config.retentionDays), config.database);
    log({ level: 'info', msg: 'schema ready', version: schema.version, applied: schema.applied });
    keeper = new RollupKeeper(db, config.database, log);
    await keeper.adopt();
    const retention = await applyRetention(db, config.database, config.retentionDays);
    if (retention.length > 0) log({ level: 'info', msg: 'retention changed', days: config.retentionDays, tables: retention.map((c) => `${c.table} (was ${c.from})`) });
    const recovered = await db.batchInserts(join(config.paths.dataDir, 'ingest-journal'), config.ingest, config.ingest.dedupWindow);
    if (recovered > 0) log({ level: 'info', msg: 'stored the batches a crash had left in the journal', batches: recovered });
    keeper.start();
    watch = await DiskWatch.start(db, config, log);

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
    servers.push(await listen(track(createClickHouseHandler({ ...common, db, gate })), config.host, config.ports.clickhouse, 'ClickHouse HTTP', tls));
    servers.push(await listen(track(createOtlpHandler({ ...common, writer })), config.host, config.ports.otlp, 'OTLP/HTTP', tls));
    grpcServer = createGrpcReceiver({ ...common, writer });
    await bindGrpc(grpcServer, config.host, config.ports.otlpGrpc, tls);
    const connection = connectionFor(config, 'reader', 30_000);
    servers.push(await listen(track(createDashboardHandler({ connection, database: config.database, users, log })), config.host, config.ports.dashboard, 'dashboard', tls));
    log({ level: 'info', msg: 'listening', host: config.host, clickhousePort: config.ports.clickhouse, otlpPort: config.ports.otlp, otlpGrpcPort: config.ports.otlpGrpc, dashboardPort: config.ports.dashboard, tls: config.tls.enabled });

    const database = db;
    const rollups = keeper;
    const diskWatch = watch;
    const grpcReceiver = grpcServer;
    let closing: Promise<void> | undefined;
    return {
      schemaVersion: schema.version,
      ingestCounters: () => database.batchCounters() ?? { requests: 0, batches: 0, deduplicated: 0 },
      rollupCounters: () => rollups.counters(),
      close: () =>
        (closing ??= (async () => {
          // A streamed result would keep its connection open for as long as the query runs.
          database.stopStreams();
          await Promise.all([...servers.map(closeServer), closeGrpc(grpcReceiver)]);
          await Promise.allSettled([...inFlight]);
          await writer.drain();
          await rollups.stop();
          await gate.close();
          await diskWatch.close();
          await database.close();
          await lock.release();
          log({ level: 'info', msg: 'stopped' });
        })()),
    };
  } catch (error) {
    await Promise.all(servers.map(closeServer));
    if (grpcServer) grpcServer.forceShutdown();
    await keeper?.stop().catch(() => undefined);
    await watch?.close();
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

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, host: string, port: number, service: string, tls?: { key: Buffer; cert: Buffer }): Promise<Server> {
  return new Promise((resolve, reject) => {
    const options = { keepAliveTimeout: 5_000, requestTimeout: 300_000 };
    // An https.Server is an http.Server over TLS sockets: the same close and idle-connection handling applies.
    const server = tls ? (createTlsServer({ ...options, ...tls }, handler) as unknown as Server) : createServer(options, handler);
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
