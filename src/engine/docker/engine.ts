// Owns the Docker stack's lifecycle through the Docker Engine API: network, volumes, images, containers, waits, logs.

import { createHash } from 'node:crypto';
import { access, cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { connectHost, ensureSecret, stackEndpoints, ROLE_SPECS, type Config } from '../../config/index.js';
import { DOTENV_GRAFANA_PASSWORD } from '../../config/defaults.js';
import { readDotenv } from '../../config/dotenv.js';
import { basicAuthorization } from '../../clickhouse/connection.js';
import { runStatement } from '../../clickhouse/http-client.js';
import { TelemetryError, describeError } from '../../errors.js';
import { templatePath } from '../../paths.js';
import { retentionStatus } from '../../schema/retention.js';
import { applyServerSchema } from '../../schema/server.js';
import { findPortHolder, isPortFree } from '../ports.js';
import type { CleanResult, DockerEndpointReport, Engine, Removed, EngineStatus, HealthCheck, HealthReport, LogOptions, ServiceStatus, StartOptions, StartResult, StopResult } from '../types.js';
import { ping, type DockerConnection, type DockerTarget } from './connect.js';
import { refusedUlimit, sameImage, stoppedWhileStarting } from './runtime.js';
import { podmanNetworkHasDns, runPodmanHealthcheck } from './podman.js';
import { loadStack, type ServiceDefinition, type StackDefinition } from './stack.js';

export const LABEL_PROJECT = 'com.automagik-telemetry.project';
export const LABEL_SERVICE = 'com.automagik-telemetry.service';
export const LABEL_HASH = 'com.automagik-telemetry.config-hash';

const PING_TIMEOUT_MS = 3_000;

export interface DockerEngineOptions {
  target: DockerTarget;
  /** How the target was found (endpoint, source, Docker or Podman, what else was tried), for status. */
  connection?: DockerConnection;
  env: NodeJS.ProcessEnv;
  /** How long to wait for each service to answer. */
  startTimeoutMs: number;
}

/** The Docker project name for a home: stable, and different for different homes so stacks never collide. */
export function projectName(home: string): string {
  return `automagik-telemetry-${createHash('sha256').update(home).digest('hex').slice(0, 8)}`;
}

export class DockerEngine implements Engine {
  readonly name = 'docker' as const;
  readonly project: string;
  private readonly docker: Docker;
  private readonly stackDir: string;

  constructor(
    private readonly config: Config,
    private readonly options: DockerEngineOptions,
  ) {
    this.project = projectName(config.home);
    this.docker = options.target.docker;
    this.stackDir = join(config.home, 'docker');
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

  private get network(): string {
    return this.project;
  }

  private containerName(service: string): string {
    return `${this.project}-${service}`;
  }

  private volumeName(volume: string): string {
    return `${this.project}_${volume}`;
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
    return loadStack(file, vars);
  }

  async start(options: StartOptions = {}): Promise<StartResult> {
    const progress = options.onProgress ?? (() => undefined);
    await ping(this.options.target, PING_TIMEOUT_MS);
    await ensureSecret(this.config, DOTENV_GRAFANA_PASSWORD);
    await this.installTemplates();
    const stack = await this.definition();
    const before = await this.containers();
    const allRunningAndCurrent = stack.services.every((s) => {
      const c = before.get(s.name);
      return c?.State === 'running' && c.Labels[LABEL_HASH] === hashOf(this.createOptions(s));
    });

    await this.checkPorts(stack, before);
    await this.ensureNetwork();
    await this.checkNetworkDns();
    for (const volume of stack.volumes) await this.ensureVolume(volume);
    for (const service of stack.services) await this.ensureImage(service.image, progress);

    for (const service of stack.services) {
      const desired = this.createOptions(service);
      const hash = hashOf(desired);
      const existing = before.get(service.name);
      const reused = existing !== undefined && existing.Labels[LABEL_HASH] === hash;
      if (existing && existing.Labels[LABEL_HASH] === hash) {
        if (existing.State !== 'running') {
          progress(`starting ${service.name}`);
          await this.startContainer(service.name, this.docker.getContainer(existing.Id));
        }
      } else {
        if (existing) {
          progress(`recreating ${service.name} (its configuration changed)`);
          await this.docker.getContainer(existing.Id).remove({ force: true });
        } else {
          progress(`creating ${service.name}`);
        }
        const container = await this.docker.createContainer({ ...desired, Labels: { ...desired.Labels, [LABEL_HASH]: hash } });
        await this.startContainer(service.name, container);
      }
      await this.waitForService(service, progress);
      if (!reused && service.afterCreate) await this.runAfterCreate(service, progress);
      // The users and tables exist before anything that logs in with them (the collector, Grafana) starts.
      if (service.name === 'clickhouse') await this.applySchema(stack, progress);
    }
    await mkdir(this.config.paths.runDir, { recursive: true });
    await writeFile(this.config.paths.stateFile, `${JSON.stringify({ engine: 'docker', project: this.project, startedAt: new Date().toISOString() }, null, 2)}\n`);
    return { alreadyRunning: allRunningAndCurrent, status: await this.status() };
  }

  /** The schema, the collector's route, the ingest and reader users with their grants (passwords from <home>/.env), the retention. */
  private async applySchema(stack: StackDefinition, progress: (message: string) => void): Promise<void> {
    progress('applying the schema and the users');
    const connection = this.clickhouseConnection(stack);
    const result = await applyServerSchema({ run: (sql: string) => runStatement(connection, sql) }, this.config);
    if (result.retention.length > 0) progress(`${result.retention.length} tables now keep rows ${this.config.retentionDays} days`);
  }

  /** Runs a service's x-automagik.after-create command in its new container; a failure names the command's output. */
  private async runAfterCreate(service: ServiceDefinition, progress: (message: string) => void): Promise<void> {
    const command = service.afterCreate ?? [];
    progress(`setting up ${service.name} (${command.slice(0, 4).join(' ')})`);
    const exec = await this.docker.getContainer(this.containerName(service.name)).exec({ Cmd: command, AttachStdout: true, AttachStderr: true });
    const stream = (await exec.start({ hijack: true, stdin: false })) as NodeJS.ReadableStream;
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    let state = await exec.inspect();
    for (let i = 0; state.Running && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = await exec.inspect();
    }
    const { ExitCode } = state;
    if (ExitCode !== 0) {
      const output = demultiplex(Buffer.concat(chunks)).map((f) => f.text).join('').trim();
      throw new TelemetryError('E_ENGINE_START', `${service.name}: \`${command.slice(0, 4).join(' ')}\` exited with code ${ExitCode}`, {
        hint: `Its output: ${output.slice(0, 400) || '(none)'}`,
        details: { service: service.name, exitCode: ExitCode },
      });
    }
  }

  private async startContainer(service: string, container: Docker.Container): Promise<void> {
    try {
      await container.start();
    } catch (error) {
      const reason = describeError(error).replace(/^\(HTTP code \d+\) [a-z ]+ - /, '');
      const ulimit = refusedUlimit(reason);
      throw new TelemetryError('E_ENGINE_START', `${this.runtimeName} could not start ${service}: ${reason}`, {
        cause: error,
        hint:
          ulimit === 'nofile' || ulimit === 'nproc'
            ? `This host does not allow raising the ${ulimit === 'nproc' ? 'process' : 'open-files'} limit (${ulimit}): set AUTOMAGIK_TELEMETRY_CLICKHOUSE_${ulimit.toUpperCase()} to a value it allows (e.g. 1024).`
            : ulimit
              ? `This host does not allow raising a resource limit (${ulimit}) the compose file sets for ${service}: lower it there.`
              : `See \`automagik-telemetry logs ${service}\`.`,
        details: { service },
      });
    }
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
    for (const service of stack.services.filter((s) => names.includes(s.name))) await this.waitForService(service, () => undefined);
    return names;
  }

  async stop(): Promise<StopResult> {
    const containers = await this.containers().catch(() => new Map<string, Docker.ContainerInfo>());
    const running = [...containers.values()].filter((c) => c.State === 'running');
    // Reverse dependency order: Grafana and the collector before ClickHouse.
    for (const c of running.reverse()) await this.docker.getContainer(c.Id).stop({ t: 20 });
    await rm(this.config.paths.stateFile, { force: true });
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
    await rm(this.config.paths.stateFile, { force: true });
    return { removed };
  }

  async reset(): Promise<CleanResult> {
    const { removed } = await this.clean();
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
        ? await retentionStatus({ run: (sql) => runStatement({ ...this.clickhouseConnection(stack), timeoutMs: 3_000 }, sql) }, this.config.database, this.config.retentionDays)
        : { days: this.config.retentionDays };
    return {
      engine: 'docker',
      running,
      host: this.config.host,
      ports: { ...this.config.ports },
      endpoints: { clickhouse, otlp, otlpGrpc, dashboard },
      ...(rows ? { rows } : {}),
      retention,
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
        const result = await this.probe(service, probe).catch((error: unknown) => ({ ok: false, detail: `unreachable: ${describeError(error)}` }));
        checks.push({ name: `${service.name}.http`, target: this.probeUrl(service, probe).replace(/\?.*/, ''), ok: result.ok, latencyMs: Math.round(performance.now() - started), detail: result.detail });
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
      streams.push(this.containerLogs(c.Id, name, options));
    }
    await Promise.all(streams);
  }

  private async containerLogs(id: string, service: string, options: LogOptions): Promise<void> {
    const container = this.docker.getContainer(id);
    const info = await container.inspect();
    const emitLines = lineSplitter((line) => options.onLine(line, service));
    if (!options.follow) {
      const raw = (await container.logs({ stdout: true, stderr: true, tail: options.tail, follow: false })) as unknown as Buffer;
      const text = info.Config.Tty ? raw.toString('utf8') : demultiplex(raw).map((f) => f.text).join('');
      emitLines(text, true);
      return;
    }
    const stream = (await container.logs({ stdout: true, stderr: true, tail: options.tail, follow: true })) as unknown as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) => {
      let pending: Buffer = Buffer.alloc(0);
      stream.on('data', (chunk: Buffer) => {
        if (info.Config.Tty) return emitLines(chunk.toString('utf8'), false);
        pending = Buffer.concat([pending, chunk]);
        const { frames, rest } = demultiplexPartial(pending);
        pending = rest;
        emitLines(frames.map((f) => f.text).join(''), false);
      });
      stream.on('end', () => {
        emitLines('', true);
        resolve();
      });
      stream.on('error', reject);
    });
  }

  private async containers(): Promise<Map<string, Docker.ContainerInfo>> {
    const list = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL_PROJECT}=${this.project}`] } });
    return new Map(list.map((c) => [c.Labels[LABEL_SERVICE] ?? '', c]));
  }

  private createOptions(service: ServiceDefinition): Docker.ContainerCreateOptions & { Labels: Record<string, string> } {
    const exposed: Record<string, object> = {};
    const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
    for (const p of service.ports) {
      exposed[`${p.containerPort}/tcp`] = {};
      bindings[`${p.containerPort}/tcp`] = [{ HostIp: p.hostIp, HostPort: String(p.hostPort) }];
    }
    return {
      name: this.containerName(service.name),
      Image: service.image,
      Hostname: service.hostname,
      ...(service.command ? { Cmd: service.command } : {}),
      Env: Object.entries(service.environment).map(([k, v]) => `${k}=${v}`),
      Labels: { [LABEL_PROJECT]: this.project, [LABEL_SERVICE]: service.name },
      ExposedPorts: exposed,
      ...(service.healthcheck
        ? {
            Healthcheck: {
              Test: service.healthcheck.test,
              Interval: service.healthcheck.intervalMs * 1e6,
              Timeout: service.healthcheck.timeoutMs * 1e6,
              Retries: service.healthcheck.retries,
            },
          }
        : {}),
      HostConfig: {
        PortBindings: bindings,
        Mounts: service.volumes.map((v) => ({
          Type: v.type,
          Source: v.type === 'volume' ? this.volumeName(v.source) : v.source,
          Target: v.target,
          ReadOnly: v.readOnly,
        })),
        Ulimits: service.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })),
        RestartPolicy: { Name: 'unless-stopped' },
      },
      NetworkingConfig: { EndpointsConfig: { [this.network]: { Aliases: [service.name] } } },
    };
  }

  private async checkPorts(stack: StackDefinition, ours: Map<string, Docker.ContainerInfo>): Promise<void> {
    const ourPorts = new Set<number>();
    for (const c of ours.values()) if (c.State === 'running') for (const p of c.Ports ?? []) if (p.PublicPort) ourPorts.add(p.PublicPort);
    for (const service of stack.services) {
      for (const p of service.ports) {
        if (ourPorts.has(p.hostPort)) continue;
        if (await isPortFree(p.hostIp, p.hostPort)) continue;
        const holder = await this.containerPublishing(p.hostPort);
        const process = holder ? undefined : await findPortHolder(p.hostPort);
        const who = holder ? ` by container ${holder}` : process ? ` by process ${process.pid} (${process.command})` : '';
        throw new TelemetryError('E_PORT_IN_USE', `port ${p.hostPort} (${service.name} ${p.containerPort}) on ${p.hostIp} is already in use${who}`, {
          hint: 'Stop what holds it, or choose other ports (--clickhouse-port, --otlp-port, AUTOMAGIK_TELEMETRY_DASHBOARD_PORT).',
          details: { port: p.hostPort, service: service.name, ...(holder ? { container: holder } : {}) },
        });
      }
    }
  }

  private async containerPublishing(port: number): Promise<string | undefined> {
    const all = await this.docker.listContainers();
    const c = all.find((x) => (x.Ports ?? []).some((p) => p.PublicPort === port));
    return c ? (c.Names[0] ?? c.Id).replace(/^\//, '') : undefined;
  }

  private async ensureNetwork(): Promise<void> {
    const existing = await this.docker.listNetworks({ filters: { name: [this.network] } });
    if (existing.some((n) => n.Name === this.network)) return;
    await this.docker.createNetwork({ Name: this.network, Driver: 'bridge', Labels: { [LABEL_PROJECT]: this.project } });
  }

  /** The services reach each other by name (the collector writes to clickhouse:9000): refuse a Podman network that cannot resolve them. */
  private async checkNetworkDns(): Promise<void> {
    if (this.runtimeName !== 'Podman' || (await podmanNetworkHasDns(this.docker, this.network)) !== false) return;
    throw new TelemetryError('E_ENGINE_START', `Podman's network ${this.network} has no DNS: the collector and Grafana could not reach clickhouse by name`, {
      hint:
        "Give Podman name resolution: its netavark backend with aardvark-dns (packages netavark and aardvark-dns; network_backend = \"netavark\" in containers.conf), " +
        'or, with the CNI backend, the dnsname plugin (Debian: golang-github-containernetworking-plugin-dnsname). Then run `automagik-telemetry clean` and start again.',
      details: { network: this.network },
    });
  }

  private async ensureVolume(volume: string): Promise<void> {
    const name = this.volumeName(volume);
    try {
      await this.docker.getVolume(name).inspect();
    } catch {
      await this.docker.createVolume({ Name: name, Labels: { [LABEL_PROJECT]: this.project } });
    }
  }

  /** Pulls an image that is not here yet, with progress; any error event in the pull stream fails the start. */
  private async ensureImage(image: string, progress: (message: string) => void): Promise<void> {
    try {
      await this.docker.getImage(image).inspect();
      return;
    } catch {
      // not here: pull it
    }
    progress(`pulling ${image}`);
    const failed = (reason: string, cause?: unknown) =>
      new TelemetryError('E_IMAGE_PULL', `cannot pull image ${image}: ${reason}`, {
        cause,
        hint:
          `No registry reachable? On a machine that has the image: \`docker save ${image} -o image.tar\`, then here: ` +
          `\`${this.runtimeName === 'Podman' ? 'podman' : 'docker'} load -i image.tar\`. Or point AUTOMAGIK_TELEMETRY_CLICKHOUSE_IMAGE / _COLLECTOR_IMAGE / _GRAFANA_IMAGE at an image you have.`,
        details: { image },
      });
    let stream: NodeJS.ReadableStream;
    try {
      stream = (await this.docker.pull(image)) as NodeJS.ReadableStream;
    } catch (error) {
      throw failed(describeError(error), error);
    }
    const layers = new Map<string, { current: number; total: number }>();
    let streamError: string | undefined;
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(
        stream,
        (error: Error | null) => (error ? reject(failed(error.message, error)) : resolve()),
        (event: { id?: string; status?: string; error?: string; errorDetail?: { message?: string }; progressDetail?: { current?: number; total?: number } }) => {
          if (event.error || event.errorDetail?.message) {
            streamError ??= event.errorDetail?.message ?? event.error;
            return;
          }
          if (event.id && event.progressDetail?.total) layers.set(event.id, { current: event.progressDetail.current ?? 0, total: event.progressDetail.total });
          const total = [...layers.values()].reduce((n, l) => n + l.total, 0);
          const current = [...layers.values()].reduce((n, l) => n + l.current, 0);
          if (total > 0) progress(`pulling ${image}: ${Math.floor((100 * current) / total)}% of ${layers.size} layers`);
        },
      );
    });
    if (streamError) throw failed(streamError);
  }

  private probeUrl(service: ServiceDefinition, probe: ServiceDefinition['wait'][number]): string {
    const binding = service.ports.find((p) => p.containerPort === probe.containerPort);
    if (!binding) throw new TelemetryError('E_CONFIG', `docker-compose.yml: ${service.name} waits on port ${probe.containerPort}, which it does not publish`);
    return `http://${connectHost(binding.hostIp)}:${binding.hostPort}${probe.path}`;
  }

  private async probe(service: ServiceDefinition, probe: ServiceDefinition['wait'][number]): Promise<{ ok: boolean; detail: string }> {
    const headers: Record<string, string> = {};
    const authorization = probe.auth ? basicAuthorization(this.config.auth.roles.admin) : undefined;
    if (authorization) headers.Authorization = authorization;
    const res = await fetch(this.probeUrl(service, probe), { headers, signal: AbortSignal.timeout(3_000) });
    const body = await res.text();
    const ok = res.ok && body.includes(probe.expect);
    return { ok, detail: ok ? `HTTP ${res.status}, answered ${JSON.stringify(probe.expect)}` : `HTTP ${res.status}: ${body.trim().slice(0, 120)}` };
  }

  /** Waits until every probe of the service passes; fails early when its container exits or turns unhealthy. */
  private async waitForService(service: ServiceDefinition, progress: (message: string) => void): Promise<void> {
    progress(`waiting for ${service.name}`);
    const container = this.docker.getContainer(this.containerName(service.name));
    const deadline = Date.now() + this.options.startTimeoutMs;
    const restartsBefore = (await container.inspect()).RestartCount ?? 0;
    let last = '';
    for (;;) {
      const inspect = await container.inspect();
      const state = inspect.State;
      if (stoppedWhileStarting(state, inspect.RestartCount ?? 0, restartsBefore)) {
        const exitCode = await exitCodeOf(container, state);
        const how = exitCode === undefined ? 'exited and was restarted' : `exited with code ${exitCode}`;
        throw new TelemetryError('E_CONTAINER_EXITED', `${service.name} (${this.containerName(service.name)}) ${how} while starting`, {
          hint: `Its last log lines:\n${await this.lastLogLines(service.name, 20)}`,
          details: { service: service.name, exitCode },
        });
      }
      if (state.Running && state.Health?.Status === 'unhealthy' && state.Health.FailingStreak > 0) {
        const log = state.Health.Log?.at(-1)?.Output?.trim() ?? '';
        throw new TelemetryError('E_UNHEALTHY', `${service.name} is unhealthy: its healthcheck failed ${state.Health.FailingStreak} times${log ? ` (${log.slice(0, 200)})` : ''}`, {
          hint: `Its last log lines:\n${await this.lastLogLines(service.name, 20)}`,
          details: { service: service.name },
        });
      }
      const results = await Promise.all(service.wait.map((p) => this.probe(service, p).catch((e: unknown) => ({ ok: false, detail: describeError(e) }))));
      if (results.every((r) => r.ok)) return;
      last = results.find((r) => !r.ok)?.detail ?? '';
      if (Date.now() > deadline) {
        throw new TelemetryError('E_TIMEOUT', `${service.name} did not answer within ${this.options.startTimeoutMs} ms (last: ${last})`, {
          hint: `Its last log lines:\n${await this.lastLogLines(service.name, 20)}`,
          details: { service: service.name },
        });
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  private async lastLogLines(service: string, tail: number): Promise<string> {
    const lines: string[] = [];
    await this.logs({ service, follow: false, tail, onLine: (l) => lines.push(`  ${l}`) }).catch(() => undefined);
    return lines.join('\n') || '  (no output)';
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

  private clickhouseConnection(stack: StackDefinition) {
    const ch = stack.services.find((s) => s.name === 'clickhouse');
    const binding = ch?.ports.find((p) => p.containerPort === 8123);
    const host = connectHost(binding?.hostIp ?? this.config.host);
    const admin = this.config.auth.roles.admin;
    return { url: `http://${host}:${binding?.hostPort ?? this.config.ports.clickhouse}`, username: admin.username, password: admin.password };
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

/**
 * The exit code of a container that stopped while starting. Podman restarts such a container at once and, while it
 * runs again, reports exit code 0: catch it between two runs (it crashes again soon), else say it is not known.
 */
async function exitCodeOf(container: Docker.Container, state: { Running: boolean; Restarting: boolean; ExitCode: number }): Promise<number | undefined> {
  // Docker: a restarting container (Running and Restarting both true) keeps the code of the run that ended.
  const known = () => !state.Running || state.Restarting;
  for (let i = 0; !known() && i < 20; i++) {
    await new Promise((r) => setTimeout(r, 100));
    state = (await container.inspect()).State;
  }
  return known() ? state.ExitCode : undefined;
}

function hashOf(options: object): string {
  return createHash('sha256').update(JSON.stringify(options)).digest('hex').slice(0, 16);
}

export interface Frame {
  stream: 'stdout' | 'stderr';
  text: string;
}

/** Splits Docker's multiplexed log stream (8-byte headers: stream type, 3 zero bytes, big-endian length). */
export function demultiplex(buffer: Buffer): Frame[] {
  return demultiplexPartial(buffer).frames;
}

function demultiplexPartial(buffer: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const type = buffer[offset];
    const length = buffer.readUInt32BE(offset + 4);
    if (offset + 8 + length > buffer.length) break;
    frames.push({ stream: type === 2 ? 'stderr' : 'stdout', text: buffer.subarray(offset + 8, offset + 8 + length).toString('utf8') });
    offset += 8 + length;
  }
  return { frames, rest: buffer.subarray(offset) };
}

function lineSplitter(onLine: (line: string) => void): (text: string, end: boolean) => void {
  let partial = '';
  return (text, end) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) onLine(line.replace(/\r$/, ''));
    if (end && partial !== '') {
      onLine(partial);
      partial = '';
    }
  };
}
