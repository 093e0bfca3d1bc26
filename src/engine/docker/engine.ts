// Owns the Docker stack's lifecycle through the Docker Engine API: start (reconcile, pull, wait, schema), stop, clean,
// reset, status, health and logs. The parts live beside it: reconciler.ts (network, volumes, containers), images.ts
// (pulls), readiness.ts (waits, on engine/wait.ts), logs.ts (log streams).

import { access, cp, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { connectHost, ensureSecret, stackEndpoints, ROLE_SPECS, type Config } from '../../config/index.js';
import { stackTrust } from '../../clickhouse/connection.js';
import { CLICKHOUSE_HTTPS_PORT, prepareDockerTls, withTls } from './tls.js';
import { DOTENV_GRAFANA_PASSWORD } from '../../config/defaults.js';
import { readDotenv } from '../../config/dotenv.js';
import { runStatement, statementRunner } from '../../clickhouse/http-client.js';
import { TelemetryError, describeError } from '../../errors.js';
import { templatePath } from '../../paths.js';
import { retentionStatus } from '../../schema/retention.js';
import { applyServerSchema } from '../../schema/server.js';
import { repairRollups } from '../../schema/rollups.js';
import { clearRunState, writeRunState } from '../run-state.js';
import { startKeeper, stopKeeper } from '../disk/keeper.js';
import { diskStatus } from '../disk/status.js';
import { ledgerPath } from '../disk/ledger.js';
import type { CleanResult, DiskStatus, DockerEndpointReport, Engine, Removed, EngineStatus, HealthCheck, HealthReport, LogOptions, ServiceStatus, StartOptions, StartResult, StopResult } from '../types.js';
import { ping, type DockerConnection, type DockerTarget } from './connect.js';
import { ensureImage } from './images.js';
import { containerLogs } from './logs.js';
import { runPodmanHealthcheck } from './podman.js';
import { probeUrl, runProbe, waitForService } from './readiness.js';
import { LABEL_PROJECT, projectName, StackReconciler } from './reconciler.js';
import { sameImage } from './runtime.js';
import { loadStack, type ServiceDefinition, type StackDefinition } from './stack.js';

export { LABEL_HASH, LABEL_PROJECT, LABEL_SERVICE, projectName } from './reconciler.js';
export { demultiplex, type Frame } from './logs.js';

const PING_TIMEOUT_MS = 3_000;

export interface DockerEngineOptions {
  target: DockerTarget;
  /** How the target was found (endpoint, source, Docker or Podman, what else was tried), for status. */
  connection?: DockerConnection;
  env: NodeJS.ProcessEnv;
  /** How long to wait for each service to answer. */
  startTimeoutMs: number;
}

export class DockerEngine implements Engine {
  readonly name = 'docker' as const;
  readonly project: string;
  private readonly docker: Docker;
  private readonly stackDir: string;
  private readonly host: StackReconciler;

  constructor(
    private readonly config: Config,
    private readonly options: DockerEngineOptions,
  ) {
    this.project = projectName(config.home);
    this.docker = options.target.docker;
    this.stackDir = join(config.home, 'docker');
    this.host = new StackReconciler(this.docker, this.project, this.runtimeName);
  }

  /** Docker or Podman, as the endpoint's /version says (Docker when unknown). */
  private get runtimeName(): string {
    return this.options.connection?.runtime.name ?? 'Docker';
  }

  /** A container's healthcheck verdict; on Podman, one that never ran (no systemd to run it) is run now. */
  private async healthOf(id: string, state: { Running: boolean; Health?: { Status: string; Log?: unknown[] | null } }): Promise<string | undefined> {
    const health = state.Health?.Status || undefined;
    if (this.runtimeName !== 'Podman' || health !== 'starting' || !state.Running || (state.Health?.Log?.length ?? 0) > 0) return health;
    return (await runPodmanHealthcheck(this.docker, id)) ?? health;
  }

  /** For status: the endpoint, why it was chosen, and what answers there. */
  private endpointReport(): DockerEndpointReport {
    const connection = this.options.connection;
    const target = this.options.target;
    if (!connection) return { endpoint: target.address, source: target.source, tried: [{ endpoint: target.address, source: target.source, outcome: 'answered' }] };
    return { endpoint: target.address, source: target.source, runtime: connection.runtime, tried: connection.tried };
  }

  private containerName(service: string): string {
    return this.host.containerName(service);
  }

  private volumeName(volume: string): string {
    return this.host.volumeName(volume);
  }

  private containers(): Promise<Map<string, Docker.ContainerInfo>> {
    return this.host.containers();
  }

  /** Copies the templates into <home>/docker, where the containers' bind mounts and `docker compose` find them. */
  private async installTemplates(): Promise<void> {
    await mkdir(this.stackDir, { recursive: true });
    for (const part of ['docker-compose.yml', 'otel-collector-config.yaml', 'grafana']) {
      await cp(templatePath(part), join(this.stackDir, part), { recursive: true, force: true });
    }
  }

  /** Reads the stack, with this config's values, from the templates `start` installed (bind sources point there). */
  async definition(): Promise<StackDefinition> {
    const dotenv = await readDotenv(this.config.paths.envFile);
    const vars: Record<string, string | undefined> = {
      ...dotenv,
      ...this.options.env,
      AUTOMAGIK_TELEMETRY_HOST: this.config.host,
      AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT: String(this.config.ports.clickhouse),
      AUTOMAGIK_TELEMETRY_OTLP_PORT: String(this.config.ports.otlp),
      AUTOMAGIK_TELEMETRY_OTLP_GRPC_PORT: String(this.config.ports.otlpGrpc),
      AUTOMAGIK_TELEMETRY_DASHBOARD_PORT: String(this.config.ports.dashboard),
      AUTOMAGIK_TELEMETRY_CLICKHOUSE_DATABASE: this.config.database,
      ...roleVariables(this.config),
    };
    // Before the first start nothing is installed yet: read the packaged template (only start creates containers).
    const installed = join(this.stackDir, 'docker-compose.yml');
    const file = (await access(installed).then(() => true, () => false)) ? installed : templatePath('docker-compose.yml');
    return withTls(await loadStack(file, vars), this.config);
  }

  async start(options: StartOptions = {}): Promise<StartResult> {
    const progress = options.onProgress ?? (() => undefined);
    await ping(this.options.target, PING_TIMEOUT_MS);
    await ensureSecret(this.config, DOTENV_GRAFANA_PASSWORD);
    await this.installTemplates();
    if (this.config.tls.enabled) await prepareDockerTls(this.config);
    const stack = await this.definition();
    const before = await this.containers();
    const allRunningAndCurrent = this.host.allCurrent(stack, before);

    await this.host.prepare(stack, before);
    for (const service of stack.services) await ensureImage(this.docker, service.image, this.runtimeName, progress);

    for (const service of stack.services) {
      const outcome = await this.host.reconcile(service, before.get(service.name), progress);
      await this.waitFor(service, progress);
      if ((outcome === 'created' || outcome === 'recreated') && service.afterCreate) await this.host.runAfterCreate(service, progress);
      // The users and tables exist before anything that logs in with them (the collector, Grafana) starts.
      if (service.name === 'clickhouse') await this.applySchema(stack, progress);
    }
    await writeRunState(this.config, { engine: 'docker', project: this.project, startedAt: new Date().toISOString() });
    // The size cap: ClickHouse has no size-based policy, so a keeper process applies it (src/engine/disk/keeper.ts).
    await startKeeper(this.config);
    return { alreadyRunning: allRunningAndCurrent, status: await this.status() };
  }

  /** The schema, the collector's route, the ingest and reader users with their grants (passwords from <home>/.env), the retention. */
  private async applySchema(stack: StackDefinition, progress: (message: string) => void): Promise<void> {
    progress('applying the schema and the users');
    const connection = this.clickhouseConnection(stack);
    const result = await applyServerSchema(statementRunner(connection), this.config);
    if (result.retention.length > 0) progress(`${result.retention.length} tables now keep rows ${this.config.retentionDays} days`);
    // Hours a failed insert or a crash left the rollups counting differently from the raw rows are rebuilt (schema/rollups.ts).
    const repairs = await repairRollups(statementRunner(connection), this.config.database);
    const rebuilt = repairs.reduce((n, r) => n + r.rebuilt.length, 0);
    if (rebuilt > 0) progress(`rebuilt ${rebuilt} rollup hour(s) that differed from the raw rows`);
  }

  private waitFor(service: ServiceDefinition, progress: (message: string) => void): Promise<void> {
    progress(`waiting for ${service.name}`);
    return waitForService(service, { docker: this.docker, container: this.containerName(service.name), timeoutMs: this.options.startTimeoutMs, admin: this.config.auth.roles.admin, trust: stackTrust(this.config) });
  }

  /** Restarts one service, or all of them. */
  async restartService(name?: string): Promise<string[]> {
    const containers = await this.containers();
    const names = name ? [name] : [...containers.keys()];
    for (const n of names) {
      const c = containers.get(n);
      if (!c) {
        throw new TelemetryError('E_CONFIG', `no ${n} container in this stack`, { hint: `Services: ${[...containers.keys()].join(', ') || 'none (run start)'}.` });
      }
      await this.docker.getContainer(c.Id).restart();
    }
    const stack = await this.definition();
    for (const service of stack.services.filter((s) => names.includes(s.name))) await this.waitFor(service, () => undefined);
    return names;
  }

  async stop(): Promise<StopResult> {
    const containers = await this.containers().catch(() => new Map<string, Docker.ContainerInfo>());
    const running = [...containers.values()].filter((c) => c.State === 'running');
    // Reverse dependency order: Grafana and the collector before ClickHouse.
    for (const c of running.reverse()) await this.docker.getContainer(c.Id).stop({ t: 20 });
    await stopKeeper(this.config);
    await clearRunState(this.config);
    return { wasRunning: running.length > 0, killed: false };
  }

  async clean(): Promise<CleanResult> {
    const removed: Removed[] = [];
    for (const c of (await this.containers()).values()) {
      await this.docker.getContainer(c.Id).remove({ force: true });
      removed.push({ kind: 'container', name: c.Names[0]?.replace(/^\//, '') ?? c.Id });
    }
    const networks = await this.docker.listNetworks({ filters: { label: [`${LABEL_PROJECT}=${this.project}`] } });
    for (const n of networks) {
      await this.docker.getNetwork(n.Id).remove();
      removed.push({ kind: 'network', name: n.Name });
    }
    await stopKeeper(this.config);
    await clearRunState(this.config);
    return { removed };
  }

  async reset(): Promise<CleanResult> {
    const { removed } = await this.clean();
    // What the cap dropped was of the data deleted now.
    await rm(ledgerPath(this.config.paths.runDir), { force: true });
    const { Volumes } = await this.docker.listVolumes({ filters: { label: [`${LABEL_PROJECT}=${this.project}`] } });
    for (const v of Volumes ?? []) {
      await this.docker.getVolume(v.Name).remove();
      removed.push({ kind: 'volume', name: v.Name });
    }
    return { removed };
  }

  async status(): Promise<EngineStatus> {
    const containers = await this.containers();
    const stack = await this.definition().catch(() => undefined);
    const services: ServiceStatus[] = [];
    const names = stack ? stack.services.map((s) => s.name) : [...containers.keys()];
    for (const name of names) {
      const c = containers.get(name);
      if (!c) {
        services.push({ name, container: this.containerName(name), image: stack?.services.find((s) => s.name === name)?.image ?? '', state: 'missing', health: undefined, ports: [], startedAt: undefined, uptimeSeconds: undefined });
        continue;
      }
      const inspect = await this.docker.getContainer(c.Id).inspect();
      const startedAt = inspect.State.Running ? inspect.State.StartedAt : undefined;
      const configured = stack?.services.find((s) => s.name === name)?.image;
      services.push({
        name,
        container: this.containerName(name),
        // Podman reports docker.io/… for the image the compose file names in short: show it as configured.
        image: configured !== undefined && sameImage(configured, c.Image) ? configured : c.Image,
        state: c.State,
        health: await this.healthOf(c.Id, inspect.State),
        ports: (c.Ports ?? []).filter((p) => p.PublicPort).map((p) => ({ host: p.IP ?? '', hostPort: p.PublicPort, containerPort: p.PrivatePort })),
        startedAt,
        uptimeSeconds: startedAt ? Math.max(0, Math.round((Date.now() - Date.parse(startedAt)) / 1000)) : undefined,
      });
    }
    const running = services.some((s) => s.state === 'running');
    const { clickhouse, otlp, otlpGrpc, dashboard } = stackEndpoints(this.config);
    const rows = running && stack ? await this.rowCounts(stack) : undefined;
    const retention =
      rows && stack
        ? await retentionStatus(statementRunner({ ...this.clickhouseConnection(stack), timeoutMs: 3_000 }), this.config.database, this.config.retentionDays)
        : { days: this.config.retentionDays };
    const disk = running && stack ? await this.diskOf(stack) : undefined;
    return {
      engine: 'docker',
      running,
      host: this.config.host,
      ports: { ...this.config.ports },
      endpoints: { clickhouse, otlp, otlpGrpc, dashboard },
      ...(rows ? { rows } : {}),
      retention,
      ...(disk ? { disk } : {}),
      diskBytes: 0,
      // Before the first start the compose file cannot be read yet (no password generated): no volume names to show.
      dataDir: stack ? `docker volumes ${stack.volumes.map((v) => this.volumeName(v)).join(', ')}` : 'docker volumes (created by the first start)',
      services,
      docker: this.endpointReport(),
      ...(running ? { uptimeSeconds: Math.max(...services.map((s) => s.uptimeSeconds ?? 0)) } : {}),
    };
  }

  async health(): Promise<HealthReport> {
    const stack = await this.definition();
    const containers = await this.containers().catch(() => new Map<string, Docker.ContainerInfo>());
    const checks: HealthCheck[] = [];
    for (const service of stack.services) {
      const c = containers.get(service.name);
      checks.push({
        name: `${service.name}.container`,
        target: this.containerName(service.name),
        ok: c?.State === 'running' && !/unhealthy/.test(c.Status),
        latencyMs: 0,
        detail: c ? c.Status : 'no container (run start)',
      });
      for (const probe of service.wait) {
        const started = performance.now();
        const result = await runProbe(service, probe, this.config.auth.roles.admin, stackTrust(this.config)).catch((error: unknown) => ({ ok: false, detail: `unreachable: ${describeError(error)}` }));
        checks.push({ name: `${service.name}.http`, target: probeUrl(service, probe).replace(/\?.*/, ''), ok: result.ok, latencyMs: Math.round(performance.now() - started), detail: result.detail });
      }
    }
    return { healthy: checks.every((c) => c.ok), checks };
  }

  async logs(options: LogOptions): Promise<void> {
    const containers = await this.containers();
    const names = options.service ? [options.service] : [...containers.keys()];
    const streams: Promise<void>[] = [];
    for (const name of names) {
      const c = containers.get(name);
      if (!c) {
        throw new TelemetryError('E_CONFIG', `no ${name} container in this stack`, { hint: `Services: ${[...containers.keys()].join(', ') || 'none (run start)'}.` });
      }
      streams.push(containerLogs(this.docker, c.Id, name, options));
    }
    await Promise.all(streams);
  }

  /** Rows in each table, when ClickHouse answers (a store still starting or not at schema 2 has none to show). */
  private async rowCounts(stack: StackDefinition): Promise<EngineStatus['rows']> {
    const db = this.config.database;
    const text = await runStatement(
      { ...this.clickhouseConnection(stack), timeoutMs: 3_000 },
      `SELECT (SELECT count() FROM ${db}.traces), (SELECT count() FROM ${db}.metrics_hourly), (SELECT count() FROM ${db}.logs), (SELECT count() FROM ${db}.metrics) FORMAT TabSeparated`,
    ).catch(() => undefined);
    const n = text?.trim().split('\t').map(Number);
    if (!n || n.length !== 4 || n.some((x) => !Number.isFinite(x))) return undefined;
    return { traces: n[0] as number, metricsHourly: n[1] as number, logs: n[2] as number, metrics: n[3] as number };
  }

  /** Free space as ClickHouse sees its own disk (the volume), with the cap and what the keeper dropped. */
  private async diskOf(stack: StackDefinition): Promise<DiskStatus | undefined> {
    const text = await runStatement({ ...this.clickhouseConnection(stack), timeoutMs: 3_000 }, "SELECT free_space, total_space FROM system.disks WHERE name = 'default' FORMAT TabSeparated").catch(() => undefined);
    const [freeBytes, totalBytes] = text?.trim().split('\t').map(Number) ?? [];
    if (freeBytes === undefined || totalBytes === undefined || !Number.isFinite(freeBytes) || !Number.isFinite(totalBytes)) return undefined;
    return diskStatus(this.config, Date.now(), { freeBytes, totalBytes });
  }

  private clickhouseConnection(stack: StackDefinition) {
    const ch = stack.services.find((s) => s.name === 'clickhouse');
    const tls = this.config.tls.enabled;
    const binding = ch?.ports.find((p) => p.containerPort === (tls ? CLICKHOUSE_HTTPS_PORT : 8123));
    const host = connectHost(binding?.hostIp ?? this.config.host);
    const admin = this.config.auth.roles.admin;
    return { url: `${tls ? 'https' : 'http'}://${host}:${binding?.hostPort ?? this.config.ports.clickhouse}`, username: admin.username, password: admin.password, ...(tls ? { trust: stackTrust(this.config) } : {}) };
  }
}

/** The variables the compose file reads for the roles: admin for ClickHouse's own user, ingest for the collector, reader for Grafana. */
function roleVariables(config: Config): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const role of ['ingest', 'reader', 'admin'] as const) {
    out[ROLE_SPECS[role].dotenvUser] = config.auth.roles[role].username;
    out[ROLE_SPECS[role].dotenvPassword] = config.auth.roles[role].password;
  }
  return out;
}
