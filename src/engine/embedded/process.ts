// Owns the life of the process that hosts the embedded engine: state files, signals, graceful stop.

import { mkdir, rm, writeFile } from 'node:fs/promises';
import type { Config } from '../../config/index.js';
import { isTelemetryError } from '../../errors.js';
import { packageVersion } from '../../paths.js';
import { clearRunState, writeRunState } from '../run-state.js';
import type { EngineState } from '../types.js';
import type { LogFn } from './http/respond.js';
import { startEmbeddedServer } from './server.js';

export interface HostedEngine {
  state: EngineState;
  /** Resolves once the engine has stopped (after SIGINT/SIGTERM or stop()). */
  stopped: Promise<void>;
  stop(): Promise<void>;
}

/** Starts the engine in this process, records pid and state in <home>/run, and stops it on SIGINT/SIGTERM. */
export async function hostEngine(config: Config, log: LogFn): Promise<HostedEngine> {
  await mkdir(config.paths.runDir, { recursive: true });
  await rm(config.paths.startupErrorFile, { force: true });
  let server;
  try {
    server = await startEmbeddedServer(config, log);
  } catch (error) {
    const record = isTelemetryError(error)
      ? { code: error.code, message: error.message, hint: error.hint, details: error.details }
      : { code: 'E_ENGINE_START', message: String((error as Error)?.message ?? error) };
    await writeFile(config.paths.startupErrorFile, JSON.stringify(record));
    throw error;
  }
  const state: EngineState = {
    engine: 'embedded',
    pid: process.pid,
    host: config.host,
    ports: { clickhouse: config.ports.clickhouse, otlp: config.ports.otlp, otlpGrpc: config.ports.otlpGrpc, dashboard: config.ports.dashboard },
    startedAt: new Date().toISOString(),
    version: packageVersion(),
    schemaVersion: server.schemaVersion,
    authRequired: config.auth.required,
    tls: config.tls.enabled,
    dataDir: config.paths.dataDir,
  };
  await writeFile(config.paths.pidFile, `${process.pid}\n`);
  await writeRunState(config, state);

  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      log({ level: 'info', msg: 'stopping: finishing requests under way and storing what is waiting' });
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      await server.close();
      await clearRunState(config);
      await rm(config.paths.pidFile, { force: true });
      resolveStopped();
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    log({ level: 'info', msg: `received ${signal}` });
    void stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return { state, stopped, stop };
}

/** A log function writing one JSON line a record; debug records only when DEBUG names automagik. */
export function jsonLineLogger(write: (line: string) => void, env: NodeJS.ProcessEnv = process.env): LogFn {
  const debug = /\bautomagik(:\*|:engine|\b)/.test(env.DEBUG ?? '') || env.DEBUG === '*';
  return (fields) => {
    if (fields.level === 'debug' && !debug) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), ...fields })}\n`);
  };
}
