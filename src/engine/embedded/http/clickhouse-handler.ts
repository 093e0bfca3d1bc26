// Owns the ClickHouse-compatible HTTP interface of the embedded engine: /ping, queries, inserts, errors as ClickHouse sends them.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CH, ClickHouseError, chError, httpStatusFor, toClickHouseError } from '../../../clickhouse/errors.js';
import { parseInsert, type InsertStatement } from '../../../clickhouse/statement.js';
import type { AccessGate, Execution, RequestScope } from '../access/gate.js';
import type { Session } from '../access/sessions.js';
import { RAW_INSERT_FORMATS, type EmbeddedDatabase, type InsertRequest } from '../database.js';
import { STREAMABLE_FORMATS } from '../result-stream.js';
import { checkCredentials, presentedCredentials, type Users } from './auth.js';
import { BodyError, readBody } from './body.js';
import { acceptsGzip, send, type LogFn } from './respond.js';
import { sendStream } from './stream-response.js';

export interface ClickHouseHandlerOptions {
  db: EmbeddedDatabase;
  /** Decides what each request may run, and keeps sessions. */
  gate: AccessGate;
  /** undefined when the engine runs with --no-auth. */
  users: Users | undefined;
  maxBodyBytes: number;
  log: LogFn;
}

/** URL parameters the HTTP layer itself interprets; every other unknown parameter is a setting, as in ClickHouse. */
const HTTP_PARAMS = new Set([
  'query', 'database', 'default_format', 'user', 'password', 'query_id', 'session_id', 'session_timeout', 'session_check',
  'compress', 'decompress', 'buffer_size', 'wait_end_of_query', 'quota_key', 'stacktrace', 'role', 'enable_http_compression',
  'http_zlib_compression_level', 'send_progress_in_http_headers', 'http_headers_progress_interval_ms', 'http_wait_end_of_query',
  'cancel_http_readonly_queries_on_client_close', 'http_write_exception_in_output_format',
]);

const CONTENT_TYPES: Record<string, string> = {
  JSON: 'application/json; charset=UTF-8',
  JSONCompact: 'application/json; charset=UTF-8',
  JSONEachRow: 'application/x-ndjson; charset=UTF-8',
  JSONCompactEachRow: 'application/x-ndjson; charset=UTF-8',
  JSONStrings: 'application/json; charset=UTF-8',
  CSV: 'text/csv; charset=UTF-8; header=absent',
  CSVWithNames: 'text/csv; charset=UTF-8; header=present',
  TabSeparated: 'text/tab-separated-values; charset=UTF-8',
  TSV: 'text/tab-separated-values; charset=UTF-8',
};

export function createClickHouseHandler(options: ClickHouseHandlerOptions) {
  const { db, gate, users, maxBodyBytes, log } = options;

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const queryId = url.searchParams.get('query_id') ?? randomUUID();
    const baseHeaders: Record<string, string> = {
      'X-ClickHouse-Server-Display-Name': 'automagik-telemetry-embedded',
      'X-ClickHouse-Query-Id': queryId,
      'X-ClickHouse-Timezone': 'UTC',
    };
    const gzipOut = url.searchParams.get('enable_http_compression') === '1' && acceptsGzip(req);
    let status = 200;
    let user: string | undefined;
    let session: Session | undefined;
    let summary = { read_rows: 0, read_bytes: 0, written_rows: 0, written_bytes: 0, elapsed_ns: 0 };
    try {
      const hasQuery = url.searchParams.has('query');
      if ((url.pathname === '/ping' || url.pathname === '/replicas_status') && req.method !== 'POST') {
        await send(res, 200, { 'Content-Type': 'text/plain; charset=UTF-8' }, 'Ok.\n');
        return;
      }
      if (url.pathname !== '/') {
        throw chError({ code: 0, name: 'UNKNOWN_HANDLER' }, `There is no handler ${url.pathname}. Use / for queries and /ping for health`);
      }
      if (req.method === 'GET' && !hasQuery) {
        await send(res, 200, { 'Content-Type': 'text/plain; charset=UTF-8' }, 'Ok.\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'POST') {
        throw chError({ code: 1, name: 'UNSUPPORTED_METHOD' }, `HTTP method ${String(req.method)} is not supported; use GET or POST`);
      }

      const auth = checkCredentials(presentedCredentials(req, url), users);
      user = auth.username;
      if (!auth.ok) {
        res.setHeader('WWW-Authenticate', 'Basic realm="automagik-telemetry", charset="UTF-8"');
        throw auth.reason === 'missing'
          ? chError(CH.REQUIRED_PASSWORD, 'Authentication required: send the user and password with HTTP basic auth or X-ClickHouse-User/X-ClickHouse-Key')
          : chError(CH.AUTHENTICATION_FAILED, `${auth.username}: Authentication failed: password is incorrect, or there is no user with such name`);
      }

      const sessionId = url.searchParams.get('session_id');
      if (sessionId !== null && sessionId !== '') {
        session = await gate.sessions.acquire(auth.username, sessionId, {
          timeout: url.searchParams.get('session_timeout'),
          check: url.searchParams.get('session_check') === '1',
        });
        baseHeaders['X-ClickHouse-Session-Id'] = sessionId;
      }

      const body = await readBody(req, maxBodyBytes).catch((error: unknown) => {
        throw bodyToClickHouse(error);
      });
      const { params, settings } = splitParams(url);
      const scope: RequestScope = {
        caller: { role: auth.role, user: auth.username },
        database: url.searchParams.get('database') ?? undefined,
        settings,
        get: req.method === 'GET',
        session,
      };
      const defaultFormat = url.searchParams.get('default_format') ?? 'TabSeparated';
      const plan = planStatement(url.searchParams.get('query'), body);
      if (plan.kind === 'empty') throw chError(CH.SYNTAX_ERROR, 'Empty query');

      if (plan.kind === 'insert') {
        const run = gate.checkInsert(scope, plan.insert);
        const outcome = await db.insert(insertRequest(plan.insert, plan.data, run));
        summary = { ...summary, written_rows: outcome.rowsWritten, written_bytes: outcome.bytesWritten, elapsed_ns: Math.round(outcome.elapsedSeconds * 1e9) };
        await send(res, 200, { ...baseHeaders, 'X-ClickHouse-Summary': summaryHeader(summary), 'Content-Type': 'text/plain; charset=UTF-8' }, '', false);
        return;
      }

      const { verdict, run } = await gate.checkSql(scope, plan.sql, params);
      if (verdict.kind === 'set' || verdict.kind === 'use') {
        gate.remember(scope, verdict);
        await send(res, 200, { ...baseHeaders, 'X-ClickHouse-Summary': summaryHeader(summary), 'Content-Type': 'text/plain; charset=UTF-8' }, '', false);
        return;
      }
      const format = formatOf(plan.sql) ?? defaultFormat;
      const resultHeaders = {
        ...baseHeaders,
        'X-ClickHouse-Format': format,
        'Content-Type': CONTENT_TYPES[format] ?? 'text/plain; charset=UTF-8',
      };
      // A read outside an HTTP session (whose temporary tables live on the main session) in a row format goes out as
      // chDB produces it; the gate has decided above, and a failure before the first chunk still gets its status.
      if (verdict.kind === 'read' && !session && STREAMABLE_FORMATS.has(format) && url.searchParams.get('wait_end_of_query') !== '1' && !hasHiddenFormat(plan.sql)) {
        const stream = await db.stream(plan.sql, { format: defaultFormat, params: run.params, settings: run.settings, database: run.database });
        if (stream) {
          const streamed = await sendStream(res, { ...resultHeaders, 'X-ClickHouse-Summary': summaryHeader(summary) }, stream, gzipOut);
          if (streamed.error) {
            status = httpStatusFor(streamed.error);
            log({ level: 'warn', endpoint: 'clickhouse', status, code: streamed.error.serverCode, error: firstLine(streamed.error.message), after_bytes: streamed.bytes });
          }
          if (streamed.aborted) log({ level: 'debug', endpoint: 'clickhouse', msg: 'client closed a streamed result', after_bytes: streamed.bytes });
          return;
        }
      }
      const outcome = await db.query(plan.sql, { format: defaultFormat, params: run.params, settings: run.settings, database: run.database });
      if (verdict.kind === 'create-temporary') session?.temporaryTables.add(verdict.table);
      if (verdict.kind === 'drop-temporary') session?.temporaryTables.delete(verdict.table);
      summary = { ...summary, read_rows: outcome.rowsRead, read_bytes: outcome.bytesRead, elapsed_ns: Math.round(outcome.elapsedSeconds * 1e9) };
      await send(
        res,
        200,
        { ...resultHeaders, 'X-ClickHouse-Summary': summaryHeader(summary) },
        outcome.body,
        gzipOut,
      );
    } catch (thrown) {
      const error = toClickHouseError(thrown);
      status = httpStatusFor(error);
      if (!res.headersSent) {
        await send(
          res,
          status,
          {
            ...baseHeaders,
            'Content-Type': 'text/plain; charset=UTF-8',
            'X-ClickHouse-Exception-Code': String(error.serverCode),
            ...(status === 503 ? { 'Retry-After': '1' } : {}),
            ...(status === 413 ? { Connection: 'close' } : {}),
          },
          error.toHttpBody(),
        );
      } else {
        res.destroy();
      }
      log({ level: 'warn', endpoint: 'clickhouse', status, code: error.serverCode, error: firstLine(error.message) });
    } finally {
      if (session) gate.sessions.release(session);
      log({
        level: 'debug',
        endpoint: 'clickhouse',
        method: req.method,
        path: url.pathname,
        status,
        user,
        ms: Math.round(performance.now() - started),
        ...summary,
      });
    }
  };
}

type Plan =
  | { kind: 'empty' }
  | { kind: 'insert'; insert: InsertStatement; data: Buffer }
  | { kind: 'sql'; sql: string };

/** Where the statement and its data are: the query parameter, the body, or the query parameter followed by the body. */
function planStatement(queryParam: string | null, body: Buffer): Plan {
  if (queryParam !== null && queryParam.trim() !== '') {
    const insert = parseInsert(queryParam);
    if (insert && body.length > 0) return { kind: 'insert', insert, data: body };
    const sql = body.length > 0 ? `${queryParam}\n${body.toString('utf8')}` : queryParam;
    return { kind: 'sql', sql };
  }
  if (body.length === 0) return { kind: 'empty' };
  // An INSERT in the body carries its rows after the first line: `INSERT INTO t FORMAT JSONEachRow\n{...}`.
  const newline = body.indexOf(0x0a);
  if (newline !== -1) {
    const insert = parseInsert(body.subarray(0, newline).toString('utf8'));
    if (insert) return { kind: 'insert', insert, data: body.subarray(newline + 1) };
  }
  return { kind: 'sql', sql: body.toString('utf8') };
}

function insertRequest(insert: InsertStatement, data: Buffer, run: Execution): InsertRequest {
  if (!RAW_INSERT_FORMATS.has(insert.format)) {
    throw chError(
      CH.UNKNOWN_FORMAT,
      `The embedded engine takes inserts in ${[...RAW_INSERT_FORMATS].join(', ')}; format ${insert.format} is not supported for inserts`,
    );
  }
  return {
    table: insert.table,
    format: insert.format as InsertRequest['format'],
    data,
    // One parsing thread an insert: chDB's parallel parsing is no faster here and takes the cores clients need.
    settings: { input_format_parallel_parsing: '0', ...run.settings, ...insert.settings },
    ...(insert.columns ? { columns: insert.columns } : {}),
    database: run.database,
  };
}

function splitParams(url: URL): { params: Record<string, string>; settings: Record<string, string> } {
  const params: Record<string, string> = {};
  const settings: Record<string, string> = {};
  for (const [key, value] of url.searchParams) {
    if (key.startsWith('param_')) params[key.slice(6)] = value;
    else if (!HTTP_PARAMS.has(key)) settings[key] = value;
  }
  return { params, settings };
}

function formatOf(sql: string): string | undefined {
  return /\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$/i.exec(sql)?.[1];
}

/** A FORMAT clause formatOf() cannot see (say, followed by SETTINGS): the output may not be a row format. */
function hasHiddenFormat(sql: string): boolean {
  return formatOf(sql) === undefined && /\bFORMAT\s+[A-Za-z]/i.test(sql);
}

function summaryHeader(summary: { read_rows: number; read_bytes: number; written_rows: number; written_bytes: number; elapsed_ns: number }): string {
  return JSON.stringify({
    read_rows: String(summary.read_rows),
    read_bytes: String(summary.read_bytes),
    written_rows: String(summary.written_rows),
    written_bytes: String(summary.written_bytes),
    total_rows_to_read: String(summary.read_rows),
    result_rows: String(summary.written_rows),
    result_bytes: String(summary.written_bytes),
    elapsed_ns: String(summary.elapsed_ns),
  });
}

function bodyToClickHouse(error: unknown): ClickHouseError {
  if (!(error instanceof BodyError)) return toClickHouseError(error);
  if (error.problem === 'too_large') return chError(CH.QUERY_IS_TOO_LARGE, error.message);
  if (error.problem === 'unsupported_encoding') return chError(CH.UNKNOWN_COMPRESSION_METHOD, error.message);
  if (error.problem === 'bad_encoding') return chError(CH.CANNOT_DECOMPRESS, error.message);
  return chError(CH.BAD_ARGUMENTS, error.message);
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}
