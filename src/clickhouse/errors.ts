// Owns ClickHouse's error shape: the server's numeric code and name, its message, the query, and the HTTP status.

import { TelemetryError } from '../errors.js';

export class ClickHouseError extends TelemetryError {
  /** ClickHouse's numeric error code, e.g. 62 for SYNTAX_ERROR. */
  readonly serverCode: number;
  /** ClickHouse's error name, e.g. SYNTAX_ERROR ('' when the message does not carry one). */
  readonly serverName: string;
  readonly query: string | undefined;

  constructor(serverCode: number, serverName: string, message: string, query?: string, cause?: unknown) {
    super('E_CLICKHOUSE', message, { cause, details: { serverCode, serverName } });
    this.name = 'ClickHouseError';
    this.serverCode = serverCode;
    this.serverName = serverName;
    this.query = query;
  }

  /** The body ClickHouse's HTTP interface sends for an error. */
  toHttpBody(): string {
    const text = this.message.startsWith('Code: ') ? this.message : `Code: ${this.serverCode}. DB::Exception: ${this.message}`;
    const named = this.serverName && !text.includes(`(${this.serverName})`) ? `${text} (${this.serverName})` : text;
    return `${named.trimEnd()}\n`;
  }
}

// Well-known codes this project raises itself (numbers as the engine's errorCodeToName() reports them).
export const CH = Object.freeze({
  UNKNOWN_FORMAT: { code: 73, name: 'UNKNOWN_FORMAT' },
  SYNTAX_ERROR: { code: 62, name: 'SYNTAX_ERROR' },
  BAD_ARGUMENTS: { code: 36, name: 'BAD_ARGUMENTS' },
  REQUIRED_PASSWORD: { code: 194, name: 'REQUIRED_PASSWORD' },
  AUTHENTICATION_FAILED: { code: 516, name: 'AUTHENTICATION_FAILED' },
  READONLY: { code: 164, name: 'READONLY' },
  CANNOT_DECOMPRESS: { code: 271, name: 'CANNOT_DECOMPRESS' },
  UNKNOWN_COMPRESSION_METHOD: { code: 89, name: 'UNKNOWN_COMPRESSION_METHOD' },
  ZLIB_INFLATE_FAILED: { code: 354, name: 'ZLIB_INFLATE_FAILED' },
  QUERY_IS_TOO_LARGE: { code: 229, name: 'QUERY_IS_TOO_LARGE' },
  HTTP_LENGTH_REQUIRED: { code: 381, name: 'HTTP_LENGTH_REQUIRED' },
  TIMEOUT_EXCEEDED: { code: 159, name: 'TIMEOUT_EXCEEDED' },
  QUERY_WAS_CANCELLED: { code: 394, name: 'QUERY_WAS_CANCELLED' },
  // The embedded engine's access policy, sessions and insert queue.
  ACCESS_DENIED: { code: 497, name: 'ACCESS_DENIED' },
  UNKNOWN_TABLE: { code: 60, name: 'UNKNOWN_TABLE' },
  INTO_OUTFILE_NOT_ALLOWED: { code: 564, name: 'INTO_OUTFILE_NOT_ALLOWED' },
  SETTING_CONSTRAINT_VIOLATION: { code: 452, name: 'SETTING_CONSTRAINT_VIOLATION' },
  SESSION_NOT_FOUND: { code: 372, name: 'SESSION_NOT_FOUND' },
  SESSION_IS_LOCKED: { code: 373, name: 'SESSION_IS_LOCKED' },
  INVALID_SESSION_TIMEOUT: { code: 374, name: 'INVALID_SESSION_TIMEOUT' },
  TOO_MANY_SIMULTANEOUS_QUERIES: { code: 202, name: 'TOO_MANY_SIMULTANEOUS_QUERIES' },
  // The disk is full: ClickHouse's own code, also for the embedded engine's own files (the ingest journal).
  NOT_ENOUGH_SPACE: { code: 243, name: 'NOT_ENOUGH_SPACE' },
});

export function chError(kind: { code: number; name: string }, message: string, query?: string): ClickHouseError {
  return new ClickHouseError(kind.code, kind.name, `Code: ${kind.code}. DB::Exception: ${message}. (${kind.name})`, query);
}

/** Reads code and name out of a ClickHouse message such as "Code: 60. DB::Exception: ... (UNKNOWN_TABLE)". */
export function parseClickHouseMessage(message: string): { code: number; name: string } {
  const code = /Code:\s*(\d+)/.exec(message);
  const names = [...message.matchAll(/\(([A-Z][A-Z0-9_]{2,})\)/g)];
  return { code: code ? Number(code[1]) : 0, name: names.length > 0 ? (names[names.length - 1]?.[1] ?? '') : '' };
}

/** Wraps whatever the engine threw as a ClickHouseError, keeping the server's code and text. */
export function toClickHouseError(error: unknown, query?: string): ClickHouseError {
  if (error instanceof ClickHouseError) return error;
  const message = error instanceof Error ? error.message : String(error);
  // A file of the engine's own (the ingest journal) on a full disk: the same answer as ClickHouse's own refusal.
  if ((error as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC') {
    return new ClickHouseError(CH.NOT_ENOUGH_SPACE.code, CH.NOT_ENOUGH_SPACE.name, `Code: 243. DB::Exception: Cannot write, not enough space: ${message}. (NOT_ENOUGH_SPACE)`, query, error);
  }
  const parsed = parseClickHouseMessage(message);
  const clean = tidyMessage(message);
  const fromEngine = (error as { clickhouseCode?: unknown }).clickhouseCode;
  const code = typeof fromEngine === 'number' && fromEngine > 0 ? fromEngine : parsed.code;
  return new ClickHouseError(code, parsed.name, clean, query, error);
}

/** The engine nests "Code: N. DB::Exception:" and "(version …)" several times; keep one of each. */
function tidyMessage(message: string): string {
  let text = message.trim().replace(/\s*\(version [^)]*\)/g, '');
  const prefix = /^(Code: \d+\. DB::Exception: )+/.exec(text);
  if (prefix) text = prefix[1] + text.slice(prefix[0].length);
  text = text.replace(/(\. \(([A-Z0-9_]+)\))(?:\.? \(\2\))+/g, '$1');
  return text;
}

const BAD_REQUEST = new Set([
  'BAD_QUERY_PARAMETER', 'INVALID_SESSION_TIMEOUT', 'UNKNOWN_QUERY_PARAMETER',
  'BAD_ARGUMENTS', 'CANNOT_COMPILE_REGEXP', 'CANNOT_PARSE_TEXT', 'CANNOT_PARSE_ESCAPE_SEQUENCE', 'CANNOT_PARSE_QUOTED_STRING',
  'CANNOT_PARSE_DATE', 'CANNOT_PARSE_DATETIME', 'CANNOT_PARSE_NUMBER', 'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING',
  'CANNOT_PARSE_IPV4', 'CANNOT_PARSE_IPV6', 'CANNOT_PARSE_INPUT_ASSERTION_FAILED', 'CANNOT_PARSE_UUID', 'DUPLICATE_COLUMN',
  'ILLEGAL_COLUMN', 'UNKNOWN_ELEMENT_IN_AST', 'UNKNOWN_TYPE_OF_AST_NODE', 'THERE_IS_NO_COLUMN', 'TOO_DEEP_AST', 'TOO_BIG_AST',
  'UNEXPECTED_AST_STRUCTURE', 'SYNTAX_ERROR', 'INCORRECT_DATA', 'TYPE_MISMATCH', 'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
  'CANNOT_DECOMPRESS', 'UNKNOWN_COMPRESSION_METHOD', 'ZLIB_INFLATE_FAILED', 'VIOLATED_CONSTRAINT', 'NO_SUCH_COLUMN_IN_TABLE', 'ILLEGAL_TYPE_OF_ARGUMENT',
  'NUMBER_OF_ARGUMENTS_DOESNT_MATCH', 'CANNOT_READ_ALL_DATA',
]);
const NOT_FOUND = new Set([
  'UNKNOWN_TABLE', 'UNKNOWN_FUNCTION', 'UNKNOWN_IDENTIFIER', 'UNKNOWN_TYPE', 'UNKNOWN_STORAGE', 'UNKNOWN_DATABASE',
  'UNKNOWN_SETTING', 'UNKNOWN_DIRECTION_OF_SORTING', 'UNKNOWN_AGGREGATE_FUNCTION', 'UNKNOWN_FORMAT',
  'UNKNOWN_DATABASE_ENGINE', 'UNKNOWN_TYPE_OF_QUERY', 'UNKNOWN_ROLE',
]);

/** The HTTP status ClickHouse's server answers with for an error (its exceptionCodeToHTTPStatus, by error name). */
export function httpStatusFor(error: ClickHouseError): number {
  const name = error.serverName;
  if (name === 'REQUIRED_PASSWORD') return 401;
  if (['UNKNOWN_USER', 'WRONG_PASSWORD', 'AUTHENTICATION_FAILED', 'SET_NON_GRANTED_ROLE'].includes(name)) return 403;
  // Refusals of the embedded engine's access policy: a client error, never a 500 (ClickHouse answers 500 for some).
  if (['ACCESS_DENIED', 'READONLY', 'SETTING_CONSTRAINT_VIOLATION', 'INTO_OUTFILE_NOT_ALLOWED'].includes(name)) return 403;
  if (name === 'SESSION_NOT_FOUND') return 404;
  // ClickHouse's own answer for a full disk: 507 Insufficient Storage (retryable once space is back).
  if (name === 'NOT_ENOUGH_SPACE') return 507;
  // The embedded engine's insert queue is full: retryable, with Retry-After.
  if (name === 'TOO_MANY_SIMULTANEOUS_QUERIES') return 503;
  if (name === 'SESSION_IS_LOCKED') return 409;
  if (name === 'QUERY_IS_TOO_LARGE') return 413;
  if (BAD_REQUEST.has(name)) return 400;
  if (NOT_FOUND.has(name)) return 404;
  if (name === 'NOT_IMPLEMENTED') return 501;
  if (name === 'TIMEOUT_EXCEEDED') return 408;
  if (name === 'HTTP_LENGTH_REQUIRED') return 411;
  return 500;
}
