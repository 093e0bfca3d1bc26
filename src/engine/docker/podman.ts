// Owns the Podman-only calls the stack needs beyond the Docker-compatible API: healthchecks on demand, network DNS.

import type Docker from 'dockerode';

interface Modem {
  dial(options: object, callback: (error: unknown, data: unknown) => void): void;
}

/** A GET on Podman's own (libpod) API; undefined when it fails. */
function libpod(docker: Docker, path: string): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve) => {
    (docker.modem as Modem).dial(
      { path: `/v4.0.0/libpod${path}?`, method: 'GET', statusCodes: { 200: true, 404: 'not found', 409: 'conflict', 500: 'server error' }, options: {} },
      (error, data) => resolve(error || data === null || typeof data !== 'object' ? undefined : (data as Record<string, unknown>)),
    );
  });
}

/**
 * Runs a container's healthcheck once and returns its verdict (healthy, unhealthy, starting), or undefined when
 * Podman cannot. Podman runs healthchecks from systemd timers; where there is no systemd (containers, CI) they never
 * run and the status stays "starting", so we ask its libpod API (GET …/healthcheck runs the check) instead.
 */
export async function runPodmanHealthcheck(docker: Docker, containerId: string): Promise<string | undefined> {
  const answer = await libpod(docker, `/containers/${encodeURIComponent(containerId)}/healthcheck`);
  return typeof answer?.Status === 'string' && answer.Status !== '' ? answer.Status : undefined;
}

/**
 * Whether containers on a Podman network find each other by name. Podman's CNI backend resolves names only with the
 * dnsname plugin (netavark does with aardvark-dns); without, dns_enabled is false. Undefined when Podman does not say.
 */
export async function podmanNetworkHasDns(docker: Docker, network: string): Promise<boolean | undefined> {
  const answer = await libpod(docker, `/networks/${encodeURIComponent(network)}/json`);
  return typeof answer?.dns_enabled === 'boolean' ? answer.dns_enabled : undefined;
}
