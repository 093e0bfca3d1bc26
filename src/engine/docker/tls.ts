// Owns the Docker stack over TLS: the certificates copied where containers can read them, and the stack definition
// changed so that ClickHouse (HTTPS, secure native), the collector's OTLP receivers and Grafana present them.

import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../../config/index.js';
import { templatePath } from '../../paths.js';
import { readServerMaterial } from '../../tls/certs.js';
import type { ServiceDefinition, StackDefinition } from './stack.js';

/** Container ports that speak TLS with TLS on, each replacing the plain port the host reached before. */
export const CLICKHOUSE_HTTPS_PORT = 8443;
export const CLICKHOUSE_NATIVE_TLS_PORT = 9440;
const REPLACED: Record<string, Record<number, number>> = { clickhouse: { 8123: CLICKHOUSE_HTTPS_PORT, 9000: CLICKHOUSE_NATIVE_TLS_PORT } };
/** Probes from the host that go over https: ClickHouse's HTTPS, the OTLP/HTTP receiver, Grafana. */
const TLS_PROBE_PORTS: Record<string, number[]> = { clickhouse: [CLICKHOUSE_HTTPS_PORT], collector: [4318], grafana: [3000] };

/** Where each service reads the certificates (mounted read-only) and, for two of them, the TLS configuration. */
const MOUNTS = {
  clickhouse: { certs: '/etc/clickhouse-server/certs', config: ['clickhouse-tls.xml', '/etc/clickhouse-server/config.d/automagik-tls.xml'] },
  collector: { certs: '/etc/otelcol-contrib/certs', config: ['collector-tls.yaml', '/etc/otelcol-contrib/tls.yaml'] },
  grafana: { certs: '/etc/grafana/certs', config: undefined },
} as const;

/**
 * Copies the home's certificates (server.crt with its chain, server.key) and the TLS configuration files into
 * <home>/docker/tls/: a folder private to this user (0700) whose files the containers' own users can read, as
 * ClickHouse (uid 101), the collector (10001) and Grafana (472) must. Returns that folder.
 */
export async function prepareDockerTls(config: Config): Promise<string> {
  const dir = dockerTlsDir(config);
  const certs = join(dir, 'certs');
  await mkdir(certs, { recursive: true });
  await chmod(dir, 0o700);
  await chmod(certs, 0o755);
  const { key, cert } = await readServerMaterial(config.tls);
  await writeFile(join(certs, 'server.crt'), cert, { mode: 0o644 });
  await writeFile(join(certs, 'server.key'), key, { mode: 0o644 });
  await chmod(join(certs, 'server.key'), 0o644);
  for (const file of ['clickhouse-tls.xml', 'collector-tls.yaml']) {
    await copyFile(templatePath('docker', 'tls', file), join(dir, file));
    await chmod(join(dir, file), 0o644);
  }
  return dir;
}

export function dockerTlsDir(config: Config): string {
  return join(config.home, 'docker', 'tls');
}

/** The stack as `config` runs it: with TLS on, every port the host reaches presents the home's certificate. */
export function withTls(stack: StackDefinition, config: Config): StackDefinition {
  if (!config.tls.enabled) return stack;
  const dir = dockerTlsDir(config);
  return { ...stack, services: stack.services.map((service) => serviceWithTls(service, dir)) };
}

function serviceWithTls(service: ServiceDefinition, dir: string): ServiceDefinition {
  const mounts = MOUNTS[service.name as keyof typeof MOUNTS];
  if (!mounts) return service;
  const replaced = REPLACED[service.name] ?? {};
  const tlsPorts = TLS_PROBE_PORTS[service.name] ?? [];
  const volumes = [...service.volumes, { type: 'bind' as const, source: join(dir, 'certs'), target: mounts.certs, readOnly: true }];
  if (mounts.config) volumes.push({ type: 'bind', source: join(dir, mounts.config[0]), target: mounts.config[1], readOnly: true });
  const out: ServiceDefinition = {
    ...service,
    volumes,
    ports: service.ports.map((p) => ({ ...p, containerPort: replaced[p.containerPort] ?? p.containerPort })),
    wait: service.wait.map((w) => {
      const port = replaced[w.containerPort] ?? w.containerPort;
      return { ...w, containerPort: port, tls: tlsPorts.includes(port) };
    }),
  };
  if (service.name === 'collector') out.command = [...(service.command ?? []), `--config=${MOUNTS.collector.config[1]}`];
  if (service.name === 'grafana') {
    out.environment = {
      ...service.environment,
      GF_SERVER_PROTOCOL: 'https',
      GF_SERVER_CERT_FILE: `${mounts.certs}/server.crt`,
      GF_SERVER_CERT_KEY: `${mounts.certs}/server.key`,
    };
    // Its own healthcheck asks the https port now; the certificate is ours, the question is only "does it answer".
    if (service.healthcheck) {
      out.healthcheck = { ...service.healthcheck, test: service.healthcheck.test.map((a) => a.replace('http://127.0.0.1:3000', 'https://127.0.0.1:3000')).flatMap((a) => (a === '--spider' ? ['--no-check-certificate', a] : [a])) };
    }
  }
  return out;
}
