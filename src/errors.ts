// Owns the one error family the library throws: a code a program can switch on, a cause, and a hint for people.

export type ErrorCode =
  | 'E_CONFIG'
  | 'E_HOME_NOT_WRITABLE'
  | 'E_PORT_IN_USE'
  | 'E_CHDB_MISSING'
  | 'E_ENGINE_UNSUPPORTED'
  | 'E_ENGINE_START'
  | 'E_ENGINE_NOT_RUNNING'
  | 'E_DATA_DIR_LOCKED'
  | 'E_TIMEOUT'
  | 'E_UNHEALTHY'
  | 'E_CLICKHOUSE'
  /** An OTLP receiver refused or could not take a batch (its HTTP status and message in the text). */
  | 'E_OTLP'
  | 'E_SCHEMA'
  | 'E_DOCKER_UNAVAILABLE'
  | 'E_IMAGE_PULL'
  | 'E_CONTAINER_EXITED'
  | 'E_REFUSED'
  | 'E_AUTH'
  /** A TLS certificate was not trusted, not valid, or could not be made (see src/tls/). */
  | 'E_TLS'
  | 'E_FILE'
  | 'E_BAD_REQUEST';

export interface TelemetryErrorOptions {
  cause?: unknown;
  /** What the user can do next; printed by the CLI under the message. */
  hint?: string;
  /** Structured facts for --json output and tests (never secrets). */
  details?: Record<string, unknown>;
}

export class TelemetryError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: TelemetryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TelemetryError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details ?? {};
  }
}

export function isTelemetryError(value: unknown): value is TelemetryError {
  return value instanceof TelemetryError;
}

/** A readable one-liner for any thrown value, for logs and causes. */
export function describeError(value: unknown): string {
  if (value instanceof Error) return value.message;
  return String(value);
}
