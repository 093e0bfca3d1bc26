// Owns the engine interface both stacks implement (embedded now; Docker later), and the shapes they report.

export type EngineName = 'embedded';

export interface Endpoints {
  clickhouse: string;
  otlp: string;
}

export interface EngineState {
  engine: EngineName;
  pid: number;
  host: string;
  ports: { clickhouse: number; otlp: number };
  startedAt: string;
  version: string;
  schemaVersion: number;
  authRequired: boolean;
  dataDir: string;
}

export interface EngineStatus {
  engine: EngineName;
  running: boolean;
  pid?: number;
  host: string;
  ports: { clickhouse: number; otlp: number };
  endpoints: Endpoints;
  startedAt?: string;
  uptimeSeconds?: number;
  schemaVersion?: number;
  rows?: { traces: number; metricsHourly: number };
  diskBytes: number;
  dataDir: string;
  logFile: string;
}

export interface HealthCheck {
  name: string;
  target: string;
  ok: boolean;
  latencyMs: number;
  detail: string;
}

export interface HealthReport {
  healthy: boolean;
  checks: HealthCheck[];
}

export interface StartOptions {
  /** Stay attached: serve from this process until SIGINT/SIGTERM. */
  foreground?: boolean;
  /** Called with short progress messages while starting. */
  onProgress?: (message: string) => void;
}

export interface StartResult {
  alreadyRunning: boolean;
  status: EngineStatus;
  /** Present when the engine ran in the foreground: resolves when it has stopped. */
  stopped?: Promise<void>;
}

export interface StopResult {
  wasRunning: boolean;
  pid?: number;
  /** True when the engine did not stop within the grace period and was killed. */
  killed: boolean;
}

export interface Engine {
  readonly name: EngineName;
  start(options?: StartOptions): Promise<StartResult>;
  stop(): Promise<StopResult>;
  status(): Promise<EngineStatus>;
  health(): Promise<HealthReport>;
}
