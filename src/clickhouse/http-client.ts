// Owns a small ClickHouse HTTP client for the CLI's own reads: bound parameters, JSONEachRow rows, ClickHouseError on failure.

import { ClickHouseError, parseClickHouseMessage } from './errors.js';

export interface ClickHouseConnection {
  url: string;
  username: string;
  password: string | undefined;
  database?: string;
  timeoutMs?: number;
}

/** Runs a query and returns its rows. Values in `params` bind to {name:Type} placeholders; they never enter the SQL text. */
export async function queryRows<T>(connection: ClickHouseConnection, sql: string, params: Record<string, string | number> = {}): Promise<T[]> {
  const url = new URL(connection.url);
  url.searchParams.set('default_format', 'JSONEachRow');
  url.searchParams.set('output_format_json_quote_64bit_integers', '0');
  if (connection.database) url.searchParams.set('database', connection.database);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(`param_${name}`, String(value));
  const headers: Record<string, string> = {};
  if (connection.password !== undefined) headers.Authorization = `Basic ${Buffer.from(`${connection.username}:${connection.password}`).toString('base64')}`;
  const res = await fetch(url, { method: 'POST', body: sql, headers, signal: AbortSignal.timeout(connection.timeoutMs ?? 10_000) });
  const text = await res.text();
  if (!res.ok) {
    const parsed = parseClickHouseMessage(text);
    throw new ClickHouseError(Number(res.headers.get('x-clickhouse-exception-code') ?? parsed.code), parsed.name, text.trim(), sql);
  }
  return text.trim() === '' ? [] : text.trim().split('\n').map((line) => JSON.parse(line) as T);
}

/** Runs one statement and returns the answer's text: the SqlRunner the schema needs, over HTTP. */
export async function runStatement(connection: ClickHouseConnection, sql: string): Promise<string> {
  const headers: Record<string, string> = {};
  if (connection.password !== undefined) headers.Authorization = `Basic ${Buffer.from(`${connection.username}:${connection.password}`).toString('base64')}`;
  const url = new URL(connection.url);
  if (connection.database) url.searchParams.set('database', connection.database);
  const res = await fetch(url, { method: 'POST', body: sql, headers, signal: AbortSignal.timeout(connection.timeoutMs ?? 30_000) });
  const text = await res.text();
  if (!res.ok) {
    const parsed = parseClickHouseMessage(text);
    throw new ClickHouseError(Number(res.headers.get('x-clickhouse-exception-code') ?? parsed.code), parsed.name, text.trim(), sql);
  }
  return text;
}
