// Owns having a service's image on the Docker or Podman host: found there, or pulled with progress.

import type Docker from 'dockerode';
import { TelemetryError, describeError } from '../../errors.js';

interface PullEvent {
  id?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  progressDetail?: { current?: number; total?: number };
}

/**
 * Pulls `image` unless it is here, reporting the share of its layers' bytes received; any error event in the pull
 * stream fails with E_IMAGE_PULL and how to load the image by hand (`runtime` names the command: docker or podman).
 */
export async function ensureImage(docker: Docker, image: string, runtime: string, progress: (message: string) => void): Promise<void> {
  try {
    await docker.getImage(image).inspect();
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
        `\`${runtime === 'Podman' ? 'podman' : 'docker'} load -i image.tar\`. Or point AUTOMAGIK_TELEMETRY_CLICKHOUSE_IMAGE / _COLLECTOR_IMAGE / _GRAFANA_IMAGE at an image you have.`,
      details: { image },
    });
  let stream: NodeJS.ReadableStream;
  try {
    stream = (await docker.pull(image)) as NodeJS.ReadableStream;
  } catch (error) {
    throw failed(describeError(error), error);
  }
  const layers = new Map<string, { current: number; total: number }>();
  let streamError: string | undefined;
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null) => (error ? reject(failed(error.message, error)) : resolve()),
      (event: PullEvent) => {
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
