// Owns the ClickHouse backend: the shared OTLP->row transform, JSONEachRow over HTTP, the batch id as dedup token.
// Plain fetch rather than @clickhouse/client: the SDK needs one POST with its own retry policy and gzip,
// and staying off the client keeps the SDK's import light for host apps.

import { parseClickHouseMessage } from '../../clickhouse/errors.js';
import { TelemetryError } from '../../errors.js';
import { otlpToRows } from '../../transform/otlp-to-rows.js';
import { LOG_COLUMNS, logsToRows } from '../../transform/logs.js';
import { METRIC_COLUMNS, metricsToRows } from '../../transform/metrics.js';
import { TRACE_COLUMNS, TRACE_NESTED_COLUMNS, toJsonEachRow, type RejectedItem } from '../../transform/row.js';
import { buildRequest, type QueuedEvent } from '../event.js';
import { buildLogsRequest, buildMetricsRequest, type QueuedLog, type QueuedMetric } from '../signal-items.js';
import type { ResolvedOptions } from '../options.js';
import { basicAuthorization } from '../../clickhouse/auth-header.js';
import type { Backend, Batch, ExportResult, HttpAnswer, SerializedBatch } from './types.js';

export class ClickHouseBackend implements Backend {
  readonly name = 'clickhouse' as const;
  readonly target: string;
  /** Rows the transform refused, per batch id, for the success result. */
  private readonly refused = new Map<string, string[]>();

  constructor(
    private readonly options: ResolvedOptions,
    private readonly authHint: string,
  ) {
    this.target = options.clickhouseEndpoint;
  }

  serialize(batch: Batch): SerializedBatch {
    const { table, columns, rows, rejected } = this.rowsOf(batch);
    if (rejected.length > 0) this.refused.set(batch.id, rejected.map((r) => r.reason));
    else this.refused.delete(batch.id);
    return { url: insertUrl(this.options, table, columns, batch.id), body: toJsonEachRow(rows), headers: insertHeaders(this.options) };
  }

  /** The batch's rows by the shared transform of its signal, and the table and columns they go to. */
  private rowsOf(batch: Batch): { table: string; columns: readonly string[]; rows: object[]; rejected: RejectedItem[] } {
    if (batch.signal === 'log') return { table: 'logs', columns: LOG_COLUMNS, ...logsToRows(buildLogsRequest(batch.events as QueuedLog[], batch.resource, batch.sdkVersion)) };
    if (batch.signal === 'metric') return { table: 'metrics', columns: METRIC_COLUMNS, ...metricsToRows(buildMetricsRequest(batch.events as QueuedMetric[], batch.resource, batch.sdkVersion)) };
    const { rows, rejected } = otlpToRows(buildRequest(batch.events as QueuedEvent[], batch.resource, batch.sdkVersion));
    // The nested events/links columns are named only when a span has some: a schema v1 store takes plain events still.
    const nested = rows.some((r) => r['events.name'] !== undefined || r['links.trace_id'] !== undefined);
    return { table: this.options.clickhouseTable, columns: nested ? [...TRACE_COLUMNS, ...TRACE_NESTED_COLUMNS] : TRACE_COLUMNS, rows, rejected };
  }

  interpret(answer: HttpAnswer, batch: Batch): ExportResult {
    if (answer.status === 200) {
      const refused = this.refused.get(batch.id) ?? [];
      this.refused.delete(batch.id);
      return { code: 'success', accepted: batch.events.length - refused.length, rejected: refused.length, message: refused.join('; ') };
    }
    const failure = insertFailure(this.options, this.authHint, answer);
    if (failure.code === 'failed') this.refused.delete(batch.id);
    return failure;
  }
}

/** The INSERT URL for rows of `columns` into `table`, under a dedup token. */
export function insertUrl(options: ResolvedOptions, table: string, columns: readonly string[], token: string): string {
  const query = `INSERT INTO ${options.clickhouseDatabase}.${table} (${columns.join(', ')}) FORMAT JSONEachRow`;
  return `${options.clickhouseEndpoint}/?query=${encodeURIComponent(query)}&insert_deduplication_token=${encodeURIComponent(token)}`;
}

/** The headers of an INSERT: the ingest credential (or the user alone when there is no password). */
export function insertHeaders(options: ResolvedOptions): Record<string, string> {
  const headers: Record<string, string> = { 'Content-Type': 'application/x-ndjson' };
  if (options.clickhousePassword !== undefined) headers.Authorization = basicAuthorization({ username: options.clickhouseUsername, password: options.clickhousePassword });
  else headers['X-ClickHouse-User'] = options.clickhouseUsername;
  return headers;
}

/**
 * A non-200 answer to an INSERT: retryable for 5xx and 429 (the rows may have landed: the outcome is unknown), failed
 * otherwise (refused: nothing stored), with the credential hint when the password was refused.
 */
export function insertFailure(o: ResolvedOptions, authHint: string, answer: HttpAnswer): Exclude<ExportResult, { code: 'success' }> {
  const text = Buffer.from(answer.body).toString('utf8').trim();
  const { name } = parseClickHouseMessage(text);
  const auth = answer.status === 401 || answer.status === 403 || name === 'AUTHENTICATION_FAILED' || name === 'REQUIRED_PASSWORD';
  const message = auth
    ? `authentication failed for user "${o.clickhouseUsername}" at ${o.clickhouseEndpoint}: ${authHint}`
    : `ClickHouse at ${o.clickhouseEndpoint} answered HTTP ${answer.status}: ${text.split('\n')[0]?.slice(0, 300) ?? ''}`;
  const error = new TelemetryError('E_CLICKHOUSE', message, { details: { status: answer.status, serverName: name } });
  if (!auth && (answer.status >= 500 || answer.status === 429)) return { code: 'retryable', error, retryAfterMs: answer.retryAfterMs };
  return { code: 'failed', error };
}
