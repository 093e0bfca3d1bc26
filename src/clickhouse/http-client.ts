// Owns a small ClickHouse HTTP client for the CLI's own reads: bound parameters, JSONEachRow rows, ClickHouseError on failure.

import { basicAuthorization, type ClickHouseConnection } from './connection.js';
import { ClickHouseError, parseClickHouseMessage } from './errors.js';
import { escapeParam } from './sql-lexer.js';
import { trustedFetch } from '../tls/fetch.js';

export type { ClickHouseConnection } from './connection.js';

/** Runs a query and returns its rows. Values in `params` bind to {name:Type} placeholders; they never enter the SQL text. */
export async function queryRows<T>(connection: ClickHouseConnection, sql: string, params: Record<string, string | number> = {}): Promise<T[]> {
  const url = new URL(connection.url);
  url.searchParams.set('default_format', 'JSONEachRow');
  url.searchParams.set('output_format_json_quote_64bit_integers', '0');
  if (connection.database) url.searchParams.set('database', connection.database);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(`param_${name}`, escapeParam(String(value)));
  const headers = authHeaders(connection);
  const res = await trustedFetch(url, { method: 'POST', body: sql, headers, signal: AbortSignal.timeout(connection.timeoutMs ?? 10_000) }, connection.trust);
  const text = await res.text();
  if (!res.ok) {
    const parsed = parseClickHouseMessage(text);
    throw new ClickHouseError(Number(res.headers.get('x-clickhouse-exception-code') ?? parsed.code), parsed.name, text.trim(), sql);
  }
  return text.trim() === '' ? [] : text.trim().split('\n').map((line) => JSON.parse(line) as T);
}

export interface StatementOptions {
  /** ClickHouse settings for this statement, sent as URL parameters. */
  settings?: Record<string, string | number>;
  /** Rows for an INSERT whose statement is `sql`; the statement then travels in the URL. */
  data?: Uint8Array | string;
  params?: Record<string, string | number>;
}

function request(connection: ClickHouseConnection, sql: string, options: StatementOptions): { url: URL; init: RequestInit } {
  const headers = authHeaders(connection);
  const url = new URL(connection.url);
  if (connection.database) url.searchParams.set('database', connection.database);
  for (const [k, v] of Object.entries(options.settings ?? {})) url.searchParams.set(k, String(v));
  for (const [k, v] of Object.entries(options.params ?? {})) url.searchParams.set(`param_${k}`, escapeParam(String(v)));
  if (options.data !== undefined) url.searchParams.set('query', sql);
  return { url, init: { method: 'POST', body: options.data ?? sql, headers, signal: AbortSignal.timeout(connection.timeoutMs ?? 30_000) } };
}

async function failure(res: Response, sql: string): Promise<ClickHouseError> {
  const text = await res.text();
  const parsed = parseClickHouseMessage(text);
  return new ClickHouseError(Number(res.headers.get('x-clickhouse-exception-code') ?? parsed.code), parsed.name, text.trim(), sql);
}

/** `runStatement` bound to a connection: the SqlRunner the schema, retention and rollup code take, over HTTP. */
export function statementRunner(connection: ClickHouseConnection): { run(sql: string): Promise<string> } {
  return { run: (sql) => runStatement(connection, sql) };
}

/** Runs one statement and returns the answer's text. */
export async function runStatement(connection: ClickHouseConnection, sql: string, options: StatementOptions = {}): Promise<string> {
  const { url, init } = request(connection, sql, options);
  const res = await trustedFetch(url, init, connection.trust);
  if (!res.ok) throw await failure(res, sql);
  return res.text();
}

/** Runs a query and yields its answer as it arrives, in chunks (for outputs too large to hold). */
export async function* streamStatement(connection: ClickHouseConnection, sql: string, options: StatementOptions = {}): AsyncGenerator<Uint8Array> {
  const { url, init } = request(connection, sql, options);
  const res = await trustedFetch(url, { ...init, signal: null }, connection.trust);
  if (!res.ok) throw await failure(res, sql);
  if (!res.body) return;
  for await (const chunk of res.body) yield chunk as Uint8Array;
}

function authHeaders(connection: ClickHouseConnection): Record<string, string> {
  const authorization = basicAuthorization(connection);
  return authorization ? { Authorization: authorization } : {};
}
