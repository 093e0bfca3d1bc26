// Owns the engine interface both stacks implement (embedded now; Docker later), and the shapes they report.

export type EngineName = 'embedded' | 'docker';

export interface Endpoints {
  clickhouse: string;
  otlp: string;
  /** OTLP/gRPC, when the engine serves it. */
  otlpGrpc?: string;
  /** The built-in dashboard (embedded) or Grafana (Docker). */
  dashboard: string;
}

export interface EngineState {
  engine: 'embedded';
  pid: number;
  host: string;
  /** dashboard and otlpGrpc are absent in state files written before they were recorded. */
  ports: { clickhouse: number; otlp: number; otlpGrpc?: number; dashboard?: number };
  startedAt: string;
  version: string;
  schemaVersion: number;
  authRequired: boolean;
  /** Served over TLS; absent in state files written before TLS. */
  tls?: boolean;
  dataDir: string;
}

export interface ServiceStatus {
  name: string;
  container: string;
  image: string;
  /** Docker's state: running, exited, created, … or missing. */
  state: string;
  /** Docker's healthcheck verdict, when the service has one: healthy, unhealthy, starting. */
  health: string | undefined;
  ports: Array<{ host: string; hostPort: number; containerPort: number }>;
  startedAt: string | undefined;
  uptimeSeconds: number | undefined;
}

export interface EngineStatus {
  engine: EngineName;
  running: boolean;
  pid?: number;
  host: string;
  /** The ports the stack listens on: the running stack's own when it runs, else the configured ones. */
  ports: { clickhouse: number; otlp: number; otlpGrpc?: number; dashboard: number };
  /** The same ports as URLs a client on this machine uses. */
  endpoints: Endpoints;
  startedAt?: string;
  uptimeSeconds?: number;
  schemaVersion?: number;
  rows?: { traces: number; metricsHourly: number; logs?: number; metrics?: number };
  /** Days rows are kept: the configured setting, and what the store's tables have (absent while it does not answer). */
  retention?: { days: number; tables?: number };
  diskBytes: number;
  /** Embedded: the data folder. Docker: the volumes. */
  dataDir: string;
  /** Embedded: the engine's log file, when there is one (Docker: each container's output, see `logs`). */
  logFile?: string;
  /** Docker only: one entry a service. */
  services?: ServiceStatus[];
  /** The disk: free space, the size cap, what the cap dropped, whether the store can write (embedded engine). */
  disk?: DiskStatus;
  /** Which Docker endpoint is used and why (Docker engine), or what --engine auto tried before choosing the embedded one. */
  docker?: DockerEndpointReport;
}

export interface DiskStatus {
  /** The size cap, bytes; 0 when there is none. */
  capBytes: number;
  /** Where the cap came from: --max-disk-mb, AUTOMAGIK_TELEMETRY_MAX_DISK_MB, or the default's words. */
  capSource: string;
  /** The data as the cap counts it (the database's active parts) at the engine's last check. */
  dataBytes?: number;
  checkedAt?: string;
  /** The filesystem holding the data. */
  freeBytes: number;
  totalBytes: number;
  /** What the cap dropped so far (across restarts), and the last partition dropped. */
  dropped: { partitions: number; rows: number; bytes: number; last?: { at: string; table: string; partition: string; rows: number; bytes: number } };
  /** Set when the newest day alone passes the cap (it is kept). */
  overCap?: string;
  /** Set while the store refuses writes for lack of space: when it last did, and its message. */
  cannotWrite?: { at: string; message: string };
}

export interface DockerEndpointReport {
  /** The endpoint in use, e.g. unix:///run/user/1000/docker.sock; absent when none answered. */
  endpoint?: string;
  /** Why that endpoint: --docker-host, DOCKER_HOST, docker context <name> (…), rootless Docker socket, Podman socket, … */
  source?: string;
  /** What answers there, from its /version. */
  runtime?: { name: 'Docker' | 'Podman'; version: string; apiVersion: string };
  /** Every endpoint considered, in order, with what happened: answered, nothing there, or the error. */
  tried: Array<{ endpoint: string; source: string; outcome: string }>;
}

export interface HealthCheck {
  name: string;
  target: string;
  ok: boolean;
  latencyMs: number;
  detail: string;
  /** A passing check that still wants attention (say, little free disk left); health stays healthy. */
  warning?: string;
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
  /** Foreground: receives the engine's log, one JSON line (with its newline) a record; without it the log is dropped. */
  onLogLine?: (line: string) => void;
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

export interface LogOptions {
  /** Docker: clickhouse, collector or grafana; all services when absent. The embedded engine has one log. */
  service?: string;
  follow: boolean;
  tail: number;
  /** Receives each line (without its newline), tagged with the service it came from. */
  onLine: (line: string, service: string) => void;
}

/** One thing clean or reset removed; the CLI words it. */
export interface Removed {
  kind: 'process' | 'container' | 'network' | 'volume' | 'file' | 'folder';
  /** The pid, the container/network/volume name, or the path. */
  name: string;
}

export interface CleanResult {
  removed: Removed[];
}

export interface Engine {
  readonly name: EngineName;
  start(options?: StartOptions): Promise<StartResult>;
  stop(): Promise<StopResult>;
  status(): Promise<EngineStatus>;
  health(): Promise<HealthReport>;
  /** Prints the engine's logs; resolves when done (never, with follow, until the process ends). */
  logs(options: LogOptions): Promise<void>;
  /** Stops and removes what `start` created, keeping the data. */
  clean(): Promise<CleanResult>;
  /** clean, and deletes the data too. */
  reset(): Promise<CleanResult>;
  /** Restarts one service and waits until it answers; E_CONFIG for an engine without separate services. Returns what restarted. */
  restartService(name: string): Promise<string[]>;
}
