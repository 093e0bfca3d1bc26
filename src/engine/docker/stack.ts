// Owns the Docker stack as data: templates/docker-compose.yml, interpolated and read into typed service definitions.

import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { TelemetryError } from '../../errors.js';

export interface PortBinding {
  hostIp: string;
  hostPort: number;
  containerPort: number;
}

export interface VolumeMount {
  type: 'volume' | 'bind';
  /** A named volume of the stack, or an absolute host path. */
  source: string;
  target: string;
  readOnly: boolean;
}

/** How the CLI decides, from the host, that a service answers (x-automagik.wait). */
export interface WaitProbe {
  containerPort: number;
  path: string;
  expect: string;
  auth: boolean;
  /** Over https, trusting the stack's CA (set for TLS stacks by src/engine/docker/tls.ts). */
  tls?: boolean;
}

export interface ServiceDefinition {
  name: string;
  image: string;
  hostname: string;
  command: string[] | undefined;
  environment: Record<string, string>;
  ports: PortBinding[];
  volumes: VolumeMount[];
  dependsOn: string[];
  healthcheck: { test: string[]; intervalMs: number; timeoutMs: number; retries: number } | undefined;
  ulimits: Array<{ name: string; soft: number; hard: number }>;
  wait: WaitProbe[];
  /** The restart policy (`restart:`); unless-stopped when the file says none, as `start` always did. */
  restart: string;
  /** x-automagik.after-create: a command run in the container once it answers, after `start` (re)created it. */
  afterCreate: string[] | undefined;
}

export interface StackDefinition {
  services: ServiceDefinition[];
  /** Named volumes, as written in the compose file (without the project prefix). */
  volumes: string[];
}

/** Replaces ${VAR}, ${VAR:-default}, ${VAR-default} and ${VAR:?error} as compose does; $$ is a literal $. */
export function interpolate(text: string, vars: Record<string, string | undefined>, file = 'docker-compose.yml'): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*)|(:?\?)([^}]*))?\}/g, (match, name: string | undefined, dash, fallback: string, q, message: string) => {
    if (match === '$$') return '$';
    const value = vars[name as string];
    const unset = value === undefined || (value === '' && (dash === ':-' || q === ':?'));
    if (!unset) return value as string;
    if (dash) return fallback;
    if (q) throw new TelemetryError('E_CONFIG', `${file}: ${name} is required: ${message}`);
    return '';
  });
}

type Raw = Record<string, unknown>;

/** Reads the compose file at `file`, with `vars` substituted, into a StackDefinition; bind sources resolve next to the file. */
export async function loadStack(file: string, vars: Record<string, string | undefined>): Promise<StackDefinition> {
  const text = interpolate(await readFile(file, 'utf8'), vars, file);
  const doc = parse(text) as Raw;
  const base = dirname(file);
  const rawServices = (doc.services ?? {}) as Record<string, Raw>;
  const volumes = Object.keys((doc.volumes ?? {}) as Raw);
  const services = Object.entries(rawServices).map(([name, raw]) => service(name, raw, base, volumes, file));
  return { services: orderByDependencies(services), volumes };
}

function service(name: string, raw: Raw, base: string, namedVolumes: string[], file: string): ServiceDefinition {
  const where = `${file}: services.${name}`;
  if (typeof raw.image !== 'string' || raw.image === '') throw new TelemetryError('E_CONFIG', `${where}.image is missing`);
  const env = (raw.environment ?? {}) as Record<string, unknown>;
  const extension = (raw['x-automagik'] ?? {}) as { wait?: Array<{ port: number; path: string; expect: string; auth?: boolean }>; 'after-create'?: unknown[] };
  return {
    name,
    image: raw.image,
    hostname: typeof raw.hostname === 'string' ? raw.hostname : name,
    command: Array.isArray(raw.command) ? raw.command.map(String) : undefined,
    environment: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])),
    ports: ((raw.ports ?? []) as string[]).map((p) => port(p, `${where}.ports`)),
    volumes: ((raw.volumes ?? []) as string[]).map((v) => volume(v, base, namedVolumes, `${where}.volumes`)),
    dependsOn: Array.isArray(raw.depends_on) ? raw.depends_on.map(String) : Object.keys((raw.depends_on ?? {}) as Raw),
    healthcheck: healthcheck(raw.healthcheck as Raw | undefined),
    ulimits: Object.entries((raw.ulimits ?? {}) as Record<string, unknown>).map(([n, v]) => ulimit(n, v, `${where}.ulimits.${n}`)),
    wait: (extension.wait ?? []).map((w) => ({ containerPort: w.port, path: w.path, expect: w.expect, auth: w.auth === true })),
    restart: typeof raw.restart === 'string' && raw.restart !== '' ? raw.restart : 'unless-stopped',
    afterCreate: Array.isArray(extension['after-create']) ? extension['after-create'].map(String) : undefined,
  };
}

function port(spec: string, where: string): PortBinding {
  const m = /^(?:(\[?[0-9a-fA-F.:]+\]?):)?(\d+):(\d+)(?:\/tcp)?$/.exec(String(spec));
  if (!m) throw new TelemetryError('E_CONFIG', `${where}: cannot read port mapping ${JSON.stringify(spec)} (expected ip:host:container)`);
  return { hostIp: m[1] ?? '0.0.0.0', hostPort: Number(m[2]), containerPort: Number(m[3]) };
}

function volume(spec: string, base: string, named: string[], where: string): VolumeMount {
  const parts = String(spec).split(':');
  const [source = '', target = '', mode = 'rw'] = parts;
  if (!target) throw new TelemetryError('E_CONFIG', `${where}: cannot read volume ${JSON.stringify(spec)}`);
  if (named.includes(source)) return { type: 'volume', source, target, readOnly: mode === 'ro' };
  if (source.startsWith('.') || isAbsolute(source)) return { type: 'bind', source: resolve(base, source), target, readOnly: mode === 'ro' };
  throw new TelemetryError('E_CONFIG', `${where}: ${JSON.stringify(source)} is neither a volume declared under volumes: nor a path`);
}

/** A ulimit as compose writes it: one number for both, or { soft, hard }; anything else names the setting. */
function ulimit(name: string, value: unknown, where: string): ServiceDefinition['ulimits'][number] {
  const limit = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= -1 ? v : undefined);
  const both = limit(value);
  if (both !== undefined) return { name, soft: both, hard: both };
  const pair = (value ?? {}) as { soft?: unknown; hard?: unknown };
  const soft = limit(pair.soft);
  const hard = limit(pair.hard);
  if (typeof value === 'object' && soft !== undefined && hard !== undefined && (hard === -1 || (soft !== -1 && soft <= hard))) return { name, soft, hard };
  throw new TelemetryError('E_CONFIG', `${where} is ${JSON.stringify(value)}: expected a whole number, or soft and hard ones (soft <= hard)`, {
    hint: name === 'nofile' || name === 'nproc' ? `Set AUTOMAGIK_TELEMETRY_CLICKHOUSE_${name.toUpperCase()} to a number, e.g. 1024.` : undefined,
    details: { setting: where },
  });
}

function duration(value: unknown): number {
  const m = /^(\d+)(ms|s|m)$/.exec(String(value ?? ''));
  if (!m) return 0;
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
}

function healthcheck(raw: Raw | undefined): ServiceDefinition['healthcheck'] {
  if (!raw || !Array.isArray(raw.test)) return undefined;
  return { test: raw.test.map(String), intervalMs: duration(raw.interval), timeoutMs: duration(raw.timeout), retries: Number(raw.retries ?? 3) };
}

function orderByDependencies(services: ServiceDefinition[]): ServiceDefinition[] {
  const byName = new Map(services.map((s) => [s.name, s]));
  const ordered: ServiceDefinition[] = [];
  const visiting = new Set<string>();
  const visit = (s: ServiceDefinition) => {
    if (ordered.includes(s)) return;
    if (visiting.has(s.name)) throw new TelemetryError('E_CONFIG', `docker-compose.yml: services depend on each other in a circle at ${s.name}`);
    visiting.add(s.name);
    for (const dep of s.dependsOn) {
      const d = byName.get(dep);
      if (!d) throw new TelemetryError('E_CONFIG', `docker-compose.yml: ${s.name} depends on unknown service ${dep}`);
      visit(d);
    }
    ordered.push(s);
  };
  services.forEach(visit);
  return ordered;
}
