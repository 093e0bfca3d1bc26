// Owns making the host match the stack definition: the project's network, volumes and containers, each container
// labelled with a hash of its settings so that an unchanged one is reused and a changed one created again.

import { createHash } from 'node:crypto';
import type Docker from 'dockerode';
import { TelemetryError, describeError } from '../../errors.js';
import { findPortHolder, isPortFree, portInUseError } from '../ports.js';
import { demultiplex } from './logs.js';
import { podmanNetworkHasDns } from './podman.js';
import { refusedUlimit } from './runtime.js';
import type { ServiceDefinition, StackDefinition } from './stack.js';

export const LABEL_PROJECT = 'com.automagik-telemetry.project';
export const LABEL_SERVICE = 'com.automagik-telemetry.service';
export const LABEL_HASH = 'com.automagik-telemetry.config-hash';

/** The Docker project name for a home: stable, and different for different homes so stacks never collide. */
export function projectName(home: string): string {
  return `automagik-telemetry-${createHash('sha256').update(home).digest('hex').slice(0, 8)}`;
}

/** The setting that moves each published container port of the stack to another host port. */
const PORT_SETTING: Record<number, string> = {
  8123: '--clickhouse-port <n>',
  9000: 'AUTOMAGIK_TELEMETRY_CLICKHOUSE_NATIVE_PORT=<n>',
  4318: '--otlp-port <n>',
  4317: '--otlp-grpc-port <n>',
  13133: 'AUTOMAGIK_TELEMETRY_COLLECTOR_HEALTH_PORT=<n>',
  3000: '--dashboard-port <n>',
};

/** What happened to a service's container: kept running, started again, made new, or replaced because its settings changed. */
export type Reconciled = 'running' | 'started' | 'created' | 'recreated';

export class StackReconciler {
  constructor(
    private readonly docker: Docker,
    readonly project: string,
    /** Docker or Podman, for messages and Podman's differences. */
    private readonly runtime: string,
  ) {}

  get network(): string {
    return this.project;
  }

  containerName(service: string): string {
    return `${this.project}-${service}`;
  }

  volumeName(volume: string): string {
    return `${this.project}_${volume}`;
  }

  /** The project's containers, by service. */
  async containers(): Promise<Map<string, Docker.ContainerInfo>> {
    const list = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL_PROJECT}=${this.project}`] } });
    return new Map(list.map((c) => [c.Labels[LABEL_SERVICE] ?? '', c]));
  }

  /** True when each service's container runs with the settings the definition asks for now. */
  allCurrent(stack: StackDefinition, containers: Map<string, Docker.ContainerInfo>): boolean {
    return stack.services.every((s) => {
      const c = containers.get(s.name);
      return c?.State === 'running' && c.Labels[LABEL_HASH] === hashOf(this.createOptions(s));
    });
  }

  /** Everything but the containers: free ports, the network (with name resolution on Podman), the volumes. */
  async prepare(stack: StackDefinition, ours: Map<string, Docker.ContainerInfo>): Promise<void> {
    await this.checkPorts(stack, ours);
    await this.ensureNetwork();
    await this.checkNetworkDns();
    for (const volume of stack.volumes) await this.ensureVolume(volume);
  }

  /** Brings one service's container in line with its definition, and running. */
  async reconcile(service: ServiceDefinition, existing: Docker.ContainerInfo | undefined, progress: (message: string) => void): Promise<Reconciled> {
    const desired = this.createOptions(service);
    const hash = hashOf(desired);
    if (existing && existing.Labels[LABEL_HASH] === hash) {
      if (existing.State === 'running') return 'running';
      progress(`starting ${service.name}`);
      await this.startContainer(service.name, this.docker.getContainer(existing.Id));
      return 'started';
    }
    if (existing) {
      progress(`recreating ${service.name} (its configuration changed)`);
      await this.docker.getContainer(existing.Id).remove({ force: true });
    } else {
      progress(`creating ${service.name}`);
    }
    const container = await this.docker.createContainer({ ...desired, Labels: { ...desired.Labels, [LABEL_HASH]: hash } });
    await this.startContainer(service.name, container);
    return existing ? 'recreated' : 'created';
  }

  /** Runs a service's x-automagik.after-create command in its container; a failure names the command's output. */
  async runAfterCreate(service: ServiceDefinition, progress: (message: string) => void): Promise<void> {
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
    if (state.ExitCode !== 0) {
      const output = demultiplex(Buffer.concat(chunks)).map((f) => f.text).join('').trim();
      throw new TelemetryError('E_ENGINE_START', `${service.name}: \`${command.slice(0, 4).join(' ')}\` exited with code ${state.ExitCode}`, {
        hint: `Its output: ${output.slice(0, 400) || '(none)'}`,
        details: { service: service.name, exitCode: state.ExitCode },
      });
    }
  }

  /** The container's settings as the Engine API takes them, from the service definition. */
  createOptions(service: ServiceDefinition): Docker.ContainerCreateOptions & { Labels: Record<string, string> } {
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
        RestartPolicy: { Name: service.restart },
      },
      NetworkingConfig: { EndpointsConfig: { [this.network]: { Aliases: [service.name] } } },
    };
  }

  private async startContainer(service: string, container: Docker.Container): Promise<void> {
    try {
      await container.start();
    } catch (error) {
      const reason = describeError(error).replace(/^\(HTTP code \d+\) [a-z ]+ - /, '');
      const ulimit = refusedUlimit(reason);
      throw new TelemetryError('E_ENGINE_START', `${this.runtime} could not start ${service}: ${reason}`, {
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

  /** Every port the stack publishes is free, or already ours; else E_PORT_IN_USE naming the container or process holding it. */
  private async checkPorts(stack: StackDefinition, ours: Map<string, Docker.ContainerInfo>): Promise<void> {
    const ourPorts = new Set<number>();
    for (const c of ours.values()) if (c.State === 'running') for (const p of c.Ports ?? []) if (p.PublicPort) ourPorts.add(p.PublicPort);
    for (const service of stack.services) {
      for (const p of service.ports) {
        if (ourPorts.has(p.hostPort)) continue;
        if (await isPortFree(p.hostIp, p.hostPort)) continue;
        const container = await this.containerPublishing(p.hostPort);
        const holder = container ? { container } : await findPortHolder(p.hostPort);
        throw portInUseError({ port: p.hostPort, host: p.hostIp, service: `${service.name} ${p.containerPort}`, holder, setting: PORT_SETTING[p.containerPort] ?? 'another host port in docker-compose.yml' });
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
    if (this.runtime !== 'Podman' || (await podmanNetworkHasDns(this.docker, this.network)) !== false) return;
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
}

function hashOf(options: object): string {
  return createHash('sha256').update(JSON.stringify(options)).digest('hex').slice(0, 16);
}
