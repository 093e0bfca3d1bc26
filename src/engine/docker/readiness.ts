// Owns waiting for a Docker service to answer: its x-automagik.wait probes as wait.ts probes, with the container's
// state as the reason to give up early (it exited, or its healthcheck says unhealthy).

import type Docker from 'dockerode';
import { basicAuthorization } from '../../clickhouse/connection.js';
import { trustedFetch, type Trust } from '../../tls/fetch.js';
import { connectHost, type RoleCredential } from '../../config/index.js';
import { TelemetryError, describeError } from '../../errors.js';
import { waitFor, type Probe } from '../wait.js';
import { lastLogLines } from './logs.js';
import { stoppedWhileStarting } from './runtime.js';
import type { ServiceDefinition, WaitProbe } from './stack.js';

/** What one probe saw: passed or not, in words. */
export interface ProbeResult {
  ok: boolean;
  detail: string;
}

/** The host URL a probe asks: the service's published port for the probed container port. */
export function probeUrl(service: ServiceDefinition, probe: WaitProbe): string {
  const binding = service.ports.find((p) => p.containerPort === probe.containerPort);
  if (!binding) throw new TelemetryError('E_CONFIG', `docker-compose.yml: ${service.name} waits on port ${probe.containerPort}, which it does not publish`);
  return `${probe.tls ? 'https' : 'http'}://${connectHost(binding.hostIp)}:${binding.hostPort}${probe.path}`;
}

/** Asks one probe once: 2xx with `expect` in the body passes; `auth` probes log in as `admin`. */
export async function runProbe(service: ServiceDefinition, probe: WaitProbe, admin: RoleCredential, trust?: Trust): Promise<ProbeResult> {
  const headers: Record<string, string> = {};
  const authorization = probe.auth ? basicAuthorization(admin) : undefined;
  if (authorization) headers.Authorization = authorization;
  const res = await trustedFetch(probeUrl(service, probe), { headers, signal: AbortSignal.timeout(3_000) }, trust);
  const body = await res.text();
  const ok = res.ok && body.includes(probe.expect);
  return { ok, detail: ok ? `HTTP ${res.status}, answered ${JSON.stringify(probe.expect)}` : `HTTP ${res.status}: ${body.trim().slice(0, 120)}` };
}

/** All of a service's probes as one wait.ts probe, remembering what the last failing one said. */
function serviceAnswers(service: ServiceDefinition, admin: RoleCredential, trust: Trust | undefined): Probe & { last: string } {
  const composite = {
    description: `${service.name} to answer`,
    last: '',
    async check() {
      const results = await Promise.all(service.wait.map((p) => runProbe(service, p, admin, trust).catch((e: unknown): ProbeResult => ({ ok: false, detail: describeError(e) }))));
      composite.last = results.find((r) => !r.ok)?.detail ?? '';
      return results.every((r) => r.ok);
    },
  };
  return composite;
}

export interface ReadinessOptions {
  docker: Docker;
  /** The service's container name. */
  container: string;
  timeoutMs: number;
  admin: RoleCredential;
  /** The CA to trust when the stack serves TLS. */
  trust?: Trust;
}

/** Waits until every probe of the service passes; fails early, with its last log lines, when its container exits or turns unhealthy. */
export async function waitForService(service: ServiceDefinition, options: ReadinessOptions): Promise<void> {
  const container = options.docker.getContainer(options.container);
  const restartsBefore = (await container.inspect()).RestartCount ?? 0;
  const logs = () => lastLogLines(options.docker, options.container, 20);
  const answers = serviceAnswers(service, options.admin, options.trust);
  const stopped = async (): Promise<Error | undefined> => {
    const inspect = await container.inspect();
    const state = inspect.State;
    if (stoppedWhileStarting(state, inspect.RestartCount ?? 0, restartsBefore)) {
      const exitCode = await exitCodeOf(container, state);
      const how = exitCode === undefined ? 'exited and was restarted' : `exited with code ${exitCode}`;
      return new TelemetryError('E_CONTAINER_EXITED', `${service.name} (${options.container}) ${how} while starting`, {
        hint: `Its last log lines:\n${await logs()}`,
        details: { service: service.name, exitCode },
      });
    }
    if (state.Running && state.Health?.Status === 'unhealthy' && state.Health.FailingStreak > 0) {
      const log = state.Health.Log?.at(-1)?.Output?.trim() ?? '';
      return new TelemetryError('E_UNHEALTHY', `${service.name} is unhealthy: its healthcheck failed ${state.Health.FailingStreak} times${log ? ` (${log.slice(0, 200)})` : ''}`, {
        hint: `Its last log lines:\n${await logs()}`,
        details: { service: service.name },
      });
    }
    return undefined;
  };
  try {
    await waitFor(answers, { timeoutMs: options.timeoutMs, intervalMs: 250, abort: stopped });
  } catch (error) {
    if (!(error instanceof TelemetryError) || error.code !== 'E_TIMEOUT') throw error;
    throw new TelemetryError('E_TIMEOUT', `${service.name} did not answer within ${options.timeoutMs} ms (last: ${answers.last})`, {
      hint: `Its last log lines:\n${await logs()}`,
      details: { service: service.name },
    });
  }
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
