// Owns telling, in an engine's status, which Docker endpoints --engine auto tried before it chose the embedded engine.

import type { CleanResult, DockerEndpointReport, Engine, EngineStatus, HealthReport, LogOptions, StartOptions, StartResult, StopResult } from './types.js';

/** The engine, unchanged, except that its status (and start's) carries `docker`: what was tried. */
export function withDockerReport(engine: Engine, report: DockerEndpointReport): Engine {
  const annotate = (status: EngineStatus): EngineStatus => ({ ...status, docker: report });
  return {
    name: engine.name,
    start: async (options?: StartOptions): Promise<StartResult> => {
      const result = await engine.start(options);
      return { ...result, status: annotate(result.status) };
    },
    status: async () => annotate(await engine.status()),
    stop: (): Promise<StopResult> => engine.stop(),
    health: (): Promise<HealthReport> => engine.health(),
    logs: (options: LogOptions) => engine.logs(options),
    clean: (): Promise<CleanResult> => engine.clean(),
    reset: (): Promise<CleanResult> => engine.reset(),
  };
}
