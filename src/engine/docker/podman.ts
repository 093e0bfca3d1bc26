// Owns the Podman-only calls the stack needs beyond the Docker-compatible API: running a healthcheck on demand.

import type Docker from 'dockerode';

/**
 * Runs a container's healthcheck once and returns its verdict (healthy, unhealthy, starting), or undefined when
 * Podman cannot. Podman runs healthchecks from systemd timers; where there is no systemd (containers, CI) they never
 * run and the status stays "starting", so we ask its libpod API (GET …/healthcheck runs the check) instead.
 */
export function runPodmanHealthcheck(docker: Docker, containerId: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const modem = docker.modem as { dial(options: object, callback: (error: unknown, data: unknown) => void): void };
    modem.dial(
      {
        path: `/v4.0.0/libpod/containers/${encodeURIComponent(containerId)}/healthcheck?`,
        method: 'GET',
        statusCodes: { 200: true, 404: 'no such container', 409: 'no healthcheck or not running', 500: 'server error' },
        options: {},
      },
      (error, data) => resolve(error ? undefined : ((data as { Status?: unknown } | null)?.Status as string | undefined) || undefined),
    );
  });
}
