// Owns telling, in an engine's status and start errors, which Docker endpoints --engine auto tried before it chose the embedded engine.

import { TelemetryError, isTelemetryError } from '../errors.js';
import type { CleanResult, DockerEndpointReport, Engine, EngineStatus, HealthReport, LogOptions, StartOptions, StartResult, StopResult } from './types.js';

/**
 * The engine, unchanged, except that its status (and start's) carries `docker`: what was tried. When the embedded
 * engine cannot run on this platform, start's error says too that no Docker engine answered, and where.
 */
export function withDockerReport(engine: Engine, report: DockerEndpointReport): Engine {
  const annotate = (status: EngineStatus): EngineStatus => ({ ...status, docker: report });
  return {
    name: engine.name,
    start: async (options?: StartOptions): Promise<StartResult> => {
      try {
        const result = await engine.start(options);
        return { ...result, status: annotate(result.status) };
      } catch (error) {
        if (!isTelemetryError(error) || error.code !== 'E_ENGINE_UNSUPPORTED') throw error;
        const tried = report.tried.map((t) => `  ${t.endpoint} (${t.source}): ${t.outcome}`).join('\n');
        throw new TelemetryError(error.code, `${error.message}; and no Docker engine answered (--engine auto tried):\n${tried}`, {
          cause: error,
          ...(error.hint !== undefined ? { hint: error.hint } : {}),
          details: { ...error.details, tried: report.tried },
        });
      }
    },
    status: async () => annotate(await engine.status()),
    stop: (): Promise<StopResult> => engine.stop(),
    health: (): Promise<HealthReport> => engine.health(),
    logs: (options: LogOptions) => engine.logs(options),
    clean: (): Promise<CleanResult> => engine.clean(),
    reset: (): Promise<CleanResult> => engine.reset(),
    restartService: (service: string) => engine.restartService(service),
  };
}
