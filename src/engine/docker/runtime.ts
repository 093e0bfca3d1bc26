// Owns telling Docker from Podman behind the same API, and the differences between the two that the stack meets.

/** What answers at a Docker API endpoint, from its /version. */
export interface ContainerRuntime {
  name: 'Docker' | 'Podman';
  version: string;
  apiVersion: string;
}

interface VersionAnswer {
  Version?: string;
  ApiVersion?: string;
  Platform?: { Name?: string };
  Components?: Array<{ Name?: string; Version?: string }>;
}

/** Podman names itself in /version's Components ("Podman Engine"); Docker says "Engine" there, and "Docker Engine - …" as Platform. */
export function runtimeOf(answer: VersionAnswer): ContainerRuntime {
  const podman = (answer.Components ?? []).find((c) => /podman/i.test(c.Name ?? '')) ?? (/podman/i.test(answer.Platform?.Name ?? '') ? { Version: answer.Version } : undefined);
  return {
    name: podman ? 'Podman' : 'Docker',
    version: podman?.Version ?? answer.Version ?? 'unknown',
    apiVersion: answer.ApiVersion ?? 'unknown',
  };
}

/**
 * An image reference in one spelling: Podman reports docker.io/-qualified names (and localhost/ for images it built
 * from a short name) where Docker keeps the short one, so "grafana/grafana:11" and "docker.io/grafana/grafana:11" are one image.
 */
export function canonicalImage(reference: string): string {
  let name = reference.trim();
  for (const prefix of ['docker.io/library/', 'index.docker.io/library/', 'docker.io/', 'index.docker.io/', 'localhost/']) {
    if (name.startsWith(prefix)) {
      name = name.slice(prefix.length);
      break;
    }
  }
  const lastPart = name.slice(name.lastIndexOf('/') + 1);
  return name.includes('@') || lastPart.includes(':') ? name : `${name}:latest`;
}

export function sameImage(a: string, b: string): boolean {
  return canonicalImage(a) === canonicalImage(b);
}

/** The container state fields both engines report (Podman says "stopped" where Docker says "exited"). */
export interface ContainerState {
  Running: boolean;
  Restarting: boolean;
  Status: string;
}

/**
 * Whether a container being waited for has stopped by itself. With restart: unless-stopped, Docker shows a crashing
 * container as restarting; Podman restarts it at once and only its RestartCount tells.
 */
export function stoppedWhileStarting(state: ContainerState, restartCount: number, restartsWhenWaitBegan: number): boolean {
  if (state.Restarting || restartCount > restartsWhenWaitBegan) return true;
  return !state.Running && ['exited', 'dead', 'stopped'].includes(state.Status);
}

/** Linux resource-limit numbers as the OCI runtime names them in "error setting rlimit type N". */
const RLIMITS: Record<string, string> = { '6': 'nproc', '7': 'nofile' };

/** The ulimit (nofile, nproc) a runtime refused to set, read from its error message. */
export function refusedUlimit(message: string): string | undefined {
  const m = /rlimit type (\d+)/.exec(message);
  return m ? RLIMITS[m[1] as string] ?? `rlimit ${m[1]}` : undefined;
}
