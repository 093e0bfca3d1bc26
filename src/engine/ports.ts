// Owns finding out whether a port is free, and, on Linux, which process holds it.

import { readFile, readdir, readlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { TelemetryError } from '../errors.js';

export function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export interface PortHolder {
  pid: number;
  command: string;
}

/** Best effort: the process listening on a TCP port, read from /proc (undefined where that is not possible). */
export async function findPortHolder(port: number): Promise<PortHolder | undefined> {
  try {
    const inodes = new Set<string>();
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      const text = await readFile(table, 'utf8').catch(() => '');
      for (const line of text.split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        const local = cols[1];
        if (!local || cols[3] !== '0A') continue;
        if (parseInt(local.split(':')[1] ?? '', 16) === port && cols[9]) inodes.add(cols[9]);
      }
    }
    if (inodes.size === 0) return undefined;
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const fds = await readdir(`/proc/${entry}/fd`).catch(() => [] as string[]);
      for (const fd of fds) {
        const target = await readlink(`/proc/${entry}/fd/${fd}`).catch(() => '');
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode && inodes.has(inode)) {
          const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
          return { pid: Number(entry), command: cmdline.split('\0').filter(Boolean).join(' ').slice(0, 120) };
        }
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** Who holds a port, when it can be told: one of our containers (Docker) or a process (/proc). */
export type PortHolderInfo = { container: string } | PortHolder | undefined;

/**
 * The one E_PORT_IN_USE both engines raise: the port, what wanted it (`service`), the address, who holds it when
 * known, and how to move the service elsewhere (`setting`, e.g. "--otlp-port <n>").
 */
export function portInUseError(options: { port: number; host: string; service: string; holder: PortHolderInfo; setting: string; cause?: unknown }): TelemetryError {
  const { port, host, service, holder, setting } = options;
  const who = holder === undefined ? '' : 'container' in holder ? ` by container ${holder.container}` : ` by process ${holder.pid} (${holder.command})`;
  return new TelemetryError('E_PORT_IN_USE', `port ${port} (${service}) on ${host} is already in use${who}`, {
    cause: options.cause,
    hint: `Stop what holds it, or choose another port: ${setting}.`,
    details: { port, service, host, ...(holder === undefined ? {} : 'container' in holder ? { container: holder.container } : { pid: holder.pid, command: holder.command }) },
  });
}

/** The flag that moves each embedded-engine service to another port. */
const PORT_FLAG: Record<string, string> = { 'ClickHouse HTTP': '--clickhouse-port', 'OTLP/HTTP': '--otlp-port', 'OTLP/gRPC': '--otlp-grpc-port', dashboard: '--dashboard-port' };

/** E_PORT_IN_USE for one of the embedded engine's ports, naming the process that holds it when /proc tells. */
export async function portInUse(service: string, port: number, host: string, cause?: unknown): Promise<TelemetryError> {
  return portInUseError({ port, host, service, holder: await findPortHolder(port), setting: `${PORT_FLAG[service] ?? '--clickhouse-port'} <n>`, cause });
}
