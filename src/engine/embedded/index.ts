// Owns the embedded engine as seen from the CLI: start (detached or foreground), stop, status and health.

import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, open, readFile, readdir, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { CREDENTIAL_VARIABLES, ROLES, connectHost, stackEndpoints, type Config, type ConfigFlags } from '../../config/index.js';
import { connectionFor, stackTrust } from '../../clickhouse/connection.js';
import { trustedFetch } from '../../tls/fetch.js';
import { checkSchemaTables } from '../../schema/check.js';
import { queryRows, statementRunner } from '../../clickhouse/http-client.js';
import { retentionStatus } from '../../schema/retention.js';
import { TelemetryError } from '../../errors.js';
import { packageRoot } from '../../paths.js';
import { isPortFree, portInUse } from '../ports.js';
import type { CleanResult, Engine, EngineState, Removed, EngineStatus, HealthCheck, HealthReport, LogOptions, StartOptions, StartResult, StopResult } from '../types.js';
import { allOf, httpOk, waitFor } from '../wait.js';
import { chdbMissing } from './chdb.js';
import { diskChecks, diskStatus } from '../disk/status.js';
import { ledgerPath } from '../disk/ledger.js';
import { currentPlatform, embeddedUnsupported } from './platform.js';
import { isAlive } from './lock.js';
import { clearRunState, liveRunState } from '../run-state.js';
import { hostEngine, jsonLineLogger } from './process.js';

const STOP_GRACE_MS = 30_000;

export class EmbeddedEngine implements Engine {
  readonly name = 'embedded' as const;

  /** `flags` are handed to the detached process so that it resolves the same configuration. */
  constructor(
    private readonly config: Config,
    private readonly flags: ConfigFlags = {},
  ) {}

  private get endpoints() {
    const { clickhouse, otlp, otlpGrpc, dashboard } = stackEndpoints(this.config);
    return { clickhouse, otlp, otlpGrpc, dashboard };
  }

  async start(options: StartOptions = {}): Promise<StartResult> {
    const progress = options.onProgress ?? (() => undefined);
    const running = await this.runningState();
    if (running) return { alreadyRunning: true, status: await this.status() };

    await this.checkHomeWritable();
    checkChdbInstalled();
    for (const [service, port] of [
      ['ClickHouse HTTP', this.config.ports.clickhouse],
      ['OTLP/HTTP', this.config.ports.otlp],
      ['OTLP/gRPC', this.config.ports.otlpGrpc],
      ['dashboard', this.config.ports.dashboard],
    ] as const) {
      if (!(await isPortFree(this.config.host, port))) throw await portInUse(service, port, this.config.host);
    }
    if (this.config.auth.required && ROLES.some((role) => this.config.auth.roles[role].password === undefined)) {
      throw new TelemetryError('E_CONFIG', 'no password is configured for every role', { hint: 'Call ensureCredentials(config) before start().' });
    }

    if (options.foreground) {
      progress('starting the embedded engine in this process');
      const hosted = await hostEngine(this.config, jsonLineLogger(options.onLogLine ?? (() => undefined)));
      return { alreadyRunning: false, status: await this.status(), stopped: hosted.stopped };
    }

    progress('starting the embedded engine (chDB)');
    await mkdir(this.config.paths.runDir, { recursive: true });
    await rm(this.config.paths.startupErrorFile, { force: true });
    const log = await open(this.config.paths.logFile, 'a', 0o600);
    const daemon = join(packageRoot(), 'dist', 'src', 'engine', 'embedded', 'daemon-main.js');
    const disk = this.config.disk.maxDiskMb === undefined ? {} : { maxDiskMb: this.config.disk.maxDiskMb, maxDiskSource: this.config.disk.maxDiskSource };
    const child = spawn(process.execPath, [daemon, JSON.stringify({ ...this.flags, home: this.config.home, ...disk })], {
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      // The engine's users and passwords come from <home>/.env alone: a shell that exported another home's
      // credentials (eval "$(… env)") must not change what this engine accepts.
      env: withoutCredentials(process.env),
    });
    await log.close();
    let exited: number | undefined;
    child.once('exit', (code) => (exited = code ?? -1));
    child.unref();

    progress('waiting for the ClickHouse and OTLP endpoints to answer');
    try {
      const trust = stackTrust(this.config);
      await waitFor(allOf(httpOk(`${this.endpoints.clickhouse}/ping`, {}, 'ClickHouse HTTP /ping', trust), httpOk(`${this.endpoints.otlp}/health`, {}, 'OTLP /health', trust)), {
        timeoutMs: this.config.startTimeoutMs,
        abort: async () => (exited === undefined ? undefined : await this.startupFailure(exited)),
      });
      // Both ports answer; make sure it is our process that answers (state written after listening).
      await waitFor({ description: 'the engine state file', check: async () => (await this.runningState())?.pid === child.pid }, { timeoutMs: 5_000 });
    } catch (error) {
      if (exited === undefined && child.pid) process.kill(child.pid, 'SIGTERM');
      throw error;
    }
    return { alreadyRunning: false, status: await this.status() };
  }

  async stop(): Promise<StopResult> {
    const state = await this.runningState();
    if (!state) {
      await this.removeStaleFiles();
      return { wasRunning: false, killed: false };
    }
    process.kill(state.pid, 'SIGTERM');
    const deadline = Date.now() + STOP_GRACE_MS;
    while (isAlive(state.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    let killed = false;
    if (isAlive(state.pid)) {
      process.kill(state.pid, 'SIGKILL');
      killed = true;
      while (isAlive(state.pid)) await new Promise((r) => setTimeout(r, 20));
    }
    await this.removeStaleFiles();
    return { wasRunning: true, pid: state.pid, killed };
  }

  async status(): Promise<EngineStatus> {
    const state = await this.runningState();
    // One truth: while the engine runs, its own recorded address and ports; otherwise the configured ones.
    const host = state?.host ?? this.config.host;
    const ports = {
      clickhouse: state?.ports.clickhouse ?? this.config.ports.clickhouse,
      otlp: state?.ports.otlp ?? this.config.ports.otlp,
      otlpGrpc: state?.ports.otlpGrpc ?? this.config.ports.otlpGrpc,
      dashboard: state?.ports.dashboard ?? this.config.ports.dashboard,
    };
    const tls = { enabled: state?.tls ?? this.config.tls.enabled };
    const { clickhouse, otlp, otlpGrpc, dashboard } = stackEndpoints({ host, ports, tls });
    const hasLog = await stat(this.config.paths.logFile).then((s) => s.isFile()).catch(() => false);
    const base: EngineStatus = {
      engine: 'embedded',
      running: state !== undefined,
      host,
      ports,
      endpoints: { clickhouse, otlp, otlpGrpc, dashboard },
      diskBytes: await directorySize(this.config.paths.dataDir),
      dataDir: this.config.paths.dataDir,
      disk: await diskStatus(this.config),
      ...(hasLog ? { logFile: this.config.paths.logFile } : {}),
    };
    if (!state) return { ...base, retention: { days: this.config.retentionDays } };
    const db = this.config.database;
    const rows = await this.sql<{ traces: string; metrics_hourly: string; logs: string; metrics: string }>(
      `SELECT (SELECT count() FROM ${db}.traces) AS traces, (SELECT count() FROM ${db}.metrics_hourly) AS metrics_hourly, ` +
        `(SELECT count() FROM ${db}.logs) AS logs, (SELECT count() FROM ${db}.metrics) AS metrics`,
    ).catch(() => undefined);
    return {
      ...base,
      pid: state.pid,
      startedAt: state.startedAt,
      uptimeSeconds: Math.max(0, Math.round((Date.now() - Date.parse(state.startedAt)) / 1000)),
      schemaVersion: state.schemaVersion,
      retention: await retentionStatus(statementRunner(connectionFor(this.config, 'reader', 5_000)), db, this.config.retentionDays),
      ...(rows?.[0] ? { rows: { traces: Number(rows[0].traces), metricsHourly: Number(rows[0].metrics_hourly), logs: Number(rows[0].logs), metrics: Number(rows[0].metrics) } } : {}),
    };
  }

  async health(): Promise<HealthReport> {
    const checks = await Promise.all([
      timed('clickhouse.ping', `${this.endpoints.clickhouse}/ping`, async () => {
        const res = await trustedFetch(`${this.endpoints.clickhouse}/ping`, { signal: AbortSignal.timeout(3_000) }, stackTrust(this.config));
        const text = await res.text();
        return res.ok && text === 'Ok.\n' ? 'Ok.' : fail(`HTTP ${res.status}: ${text.trim().slice(0, 120)}`);
      }),
      timed('clickhouse.query', `${this.endpoints.clickhouse}/ SELECT 1 as ${this.config.auth.roles.reader.username}`, async () => {
        const rows = await this.sql<{ one: number }>('SELECT 1 AS one');
        return rows[0]?.one === 1 ? 'SELECT 1 answered 1' : fail(`unexpected answer ${JSON.stringify(rows)}`);
      }),
      timed('clickhouse.schema', `${this.config.database}: every table of the schema`, () =>
        checkSchemaTables((sql, params) => this.sql(sql, params), this.config.database).catch((error: unknown) =>
          fail(error instanceof TelemetryError && error.code === 'E_SCHEMA' ? `${error.message}; ${error.hint ?? ''}` : String(error)),
        ),
      ),
      healthEndpoint('otlp.health', `${this.endpoints.otlp}/health`, 'OTLP receiver answers', this.config),
      timed('otlp-grpc.export', `${this.endpoints.otlpGrpc}`, async () =>
        // Loaded here only: the CLI's other commands never need grpc-js.
        (await import('./otlp-grpc.js')).probeGrpc(
          connectHost(this.config.host),
          this.config.ports.otlpGrpc,
          this.config.auth.required && this.config.auth.roles.ingest.password !== undefined ? { username: this.config.auth.roles.ingest.username, password: this.config.auth.roles.ingest.password } : undefined,
          3_000,
          this.config.tls.enabled ? await readFile(this.config.tls.caFile) : undefined,
        ),
      ),
      healthEndpoint('dashboard.health', `${this.endpoints.dashboard}/health`, 'dashboard answers', this.config),
    ]);
    checks.push(...(await diskChecks(this.config)));
    return { healthy: checks.every((c) => c.ok), checks };
  }

  async logs(options: LogOptions): Promise<void> {
    const file = this.config.paths.logFile;
    const first = await readFrom(file, 0).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        throw new TelemetryError('E_ENGINE_NOT_RUNNING', `no log yet at ${file}`, { hint: 'Start the stack with `automagik-telemetry start`.' });
      }
      throw error;
    });
    for (const line of first.text.trimEnd().split('\n').filter(Boolean).slice(-options.tail)) options.onLine(line, 'engine');
    if (!options.follow) return;
    let position = first.end;
    let partial = '';
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      const next = await readFrom(file, position).catch(() => ({ text: '', end: 0 }));
      position = next.end < position ? 0 : next.end; // truncated or replaced: start over
      const lines = (partial + next.text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines.filter(Boolean)) options.onLine(line, 'engine');
    }
  }

  /** Stops the engine and removes its run files (pid, state, startup error); the data, the log and the query history stay. */
  async clean(): Promise<CleanResult> {
    const stopped = await this.stop();
    const removed: Removed[] = stopped.wasRunning && stopped.pid !== undefined ? [{ kind: 'process', name: String(stopped.pid) }] : [];
    for (const file of [this.config.paths.stateFile, this.config.paths.pidFile, this.config.paths.startupErrorFile]) {
      if (await stat(file).then(() => true, () => false)) {
        await rm(file, { force: true });
        removed.push({ kind: 'file', name: file });
      }
    }
    return { removed };
  }

  /** clean, and deletes the data folder. */
  async reset(): Promise<CleanResult> {
    const cleaned = await this.clean();
    const hadData = await stat(this.config.paths.dataDir).then(() => true, () => false);
    await rm(this.config.paths.dataDir, { recursive: true, force: true });
    // What the cap dropped was of the data deleted now.
    await rm(ledgerPath(this.config.paths.runDir), { force: true });
    return { removed: [...cleaned.removed, ...(hadData ? [{ kind: 'folder' as const, name: this.config.paths.dataDir }] : [])] };
  }

  /** The embedded engine is one process: there is no single service to restart. */
  async restartService(name: string): Promise<string[]> {
    throw new TelemetryError('E_CONFIG', `the embedded engine has no separate services: run restart without "${name}"`);
  }

  /** The recorded state when its process is alive; undefined otherwise. */
  private async runningState(): Promise<EngineState | undefined> {
    const state = await liveRunState(this.config);
    return state?.engine === 'embedded' ? state : undefined;
  }

  private async removeStaleFiles(): Promise<void> {
    await clearRunState(this.config);
    await rm(this.config.paths.pidFile, { force: true });
  }

  private async startupFailure(exitCode: number): Promise<Error> {
    const recorded = await readFile(this.config.paths.startupErrorFile, 'utf8').catch(() => undefined);
    if (recorded) {
      const r = JSON.parse(recorded) as { code: TelemetryError['code']; message: string; hint?: string; details?: Record<string, unknown> };
      return new TelemetryError(r.code, r.message, { ...(r.hint ? { hint: r.hint } : {}), ...(r.details ? { details: r.details } : {}) });
    }
    const tail = (await readFile(this.config.paths.logFile, 'utf8').catch(() => '')).trimEnd().split('\n').slice(-10).join('\n');
    return new TelemetryError('E_ENGINE_START', `the engine process exited with code ${exitCode} while starting`, {
      hint: `Last lines of ${this.config.paths.logFile}:\n${tail}`,
    });
  }

  /** Reads as the reader role: status and health never need more. */
  private sql<T>(query: string, params: Record<string, string> = {}): Promise<T[]> {
    return queryRows<T>(connectionFor(this.config, 'reader', 5_000), query, params);
  }

  private async checkHomeWritable(): Promise<void> {
    try {
      await mkdir(this.config.paths.runDir, { recursive: true });
      await mkdir(this.config.paths.dataDir, { recursive: true });
      await access(this.config.home, constants.W_OK);
      await access(this.config.paths.runDir, constants.W_OK);
      await access(this.config.paths.dataDir, constants.W_OK);
    } catch (error) {
      throw new TelemetryError('E_HOME_NOT_WRITABLE', `cannot write to ${this.config.home}: ${(error as Error).message}`, {
        cause: error,
        hint: 'Choose a writable folder with --home or AUTOMAGIK_TELEMETRY_HOME.',
        details: { home: this.config.home },
      });
    }
  }
}

function checkChdbInstalled(): void {
  // On a platform without a chDB build, say so (and point at Docker) rather than fail loading a native library.
  const unsupported = embeddedUnsupported(currentPlatform());
  if (unsupported) throw unsupported;
  try {
    createRequire(import.meta.url).resolve('chdb');
  } catch (error) {
    throw chdbMissing(error);
  }
}

class CheckFailed extends Error {}
function fail(detail: string): never {
  throw new CheckFailed(detail);
}

/** A check that passes when `url` answers 2xx. */
function healthEndpoint(name: string, url: string, detail: string, config: Config): Promise<HealthCheck> {
  return timed(name, url, async () => {
    const res = await trustedFetch(url, { signal: AbortSignal.timeout(3_000) }, stackTrust(config));
    await res.arrayBuffer();
    return res.ok ? detail : fail(`HTTP ${res.status}`);
  });
}

async function timed(name: string, target: string, run: () => Promise<string>): Promise<HealthCheck> {
  const started = performance.now();
  try {
    const detail = await run();
    return { name, target, ok: true, latencyMs: Math.round(performance.now() - started), detail };
  } catch (error) {
    const detail = error instanceof CheckFailed ? error.message : `unreachable: ${(error as Error).message}${(error as Error).cause ? ` (${String((error as { cause?: { code?: string } }).cause?.code ?? '')})` : ''}`;
    return { name, target, ok: false, latencyMs: Math.round(performance.now() - started), detail };
  }
}

async function readFrom(file: string, from: number): Promise<{ text: string; end: number }> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size <= from) return { text: '', end: size };
    const buffer = Buffer.alloc(size - from);
    await handle.read(buffer, 0, buffer.length, from);
    return { text: buffer.toString('utf8'), end: size };
  } finally {
    await handle.close();
  }
}

async function directorySize(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await directorySize(path);
    else if (entry.isFile()) total += (await stat(path).catch(() => ({ size: 0 }))).size;
  }
  return total;
}


function withoutCredentials(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const name of CREDENTIAL_VARIABLES) delete out[name];
  // Likewise the CA: the engine's own clients (the dashboard's queries) trust its home's CA, whatever the shell says.
  delete out.AUTOMAGIK_TELEMETRY_CA_FILE;
  return out;
}
