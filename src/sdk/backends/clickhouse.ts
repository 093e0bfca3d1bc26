// Owns the ClickHouse backend: the shared OTLP->row transform, JSONEachRow over HTTP, a deduplication token per batch.
// Plain fetch rather than @clickhouse/client: the SDK needs one POST with its own retry policy and gzip,
// and staying off the client keeps the SDK's import light for host apps.

import { parseClickHouseMessage } from '../../clickhouse/errors.js';
import { otlpToRows } from '../../transform/otlp-to-rows.js';
import { TRACE_COLUMNS, toJsonEachRow } from '../../transform/row.js';
import { buildRequest, type ResourceInfo } from '../event.js';
import { basicAuth, post } from '../http.js';
import type { ResolvedOptions } from '../options.js';
import { SendError } from '../retry.js';
import type { Backend, Batch, BatchOutcome } from './types.js';

export class ClickHouseBackend implements Backend {
  readonly name = 'clickhouse' as const;
  readonly target: string;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly sdkVersion: string,
  ) {
    this.target = options.clickhouseEndpoint;
  }

  async send(batch: Batch, resource: ResourceInfo): Promise<BatchOutcome> {
    const { rows, rejected } = otlpToRows(buildRequest(batch.events, resource, this.sdkVersion));
    const o = this.options;
    const query = `INSERT INTO ${o.clickhouseDatabase}.${o.clickhouseTable} (${TRACE_COLUMNS.join(', ')}) FORMAT JSONEachRow`;
    const url = `${o.clickhouseEndpoint}/?query=${encodeURIComponent(query)}&insert_deduplication_token=${encodeURIComponent(batch.id)}`;
    const headers: Record<string, string> = { 'Content-Type': 'application/x-ndjson' };
    if (o.clickhousePassword !== undefined) headers.Authorization = basicAuth(o.clickhouseUsername, o.clickhousePassword);
    else headers['X-ClickHouse-User'] = o.clickhouseUsername;
    const res = await post(url, toJsonEachRow(rows), headers, { timeoutMs: o.timeoutMs, compression: o.compression });
    if (res.status === 200) {
      return { accepted: rows.length, rejected: rejected.length, message: rejected.map((r) => r.reason).join('; ') };
    }
    const text = Buffer.from(res.body).toString('utf8').trim();
    const { name } = parseClickHouseMessage(text);
    const reason =
      res.status === 401 || res.status === 403 || name === 'AUTHENTICATION_FAILED' || name === 'REQUIRED_PASSWORD'
        ? `authentication failed for user "${o.clickhouseUsername}" at ${o.clickhouseEndpoint}`
        : `ClickHouse at ${o.clickhouseEndpoint} answered HTTP ${res.status}: ${text.split('\n')[0]?.slice(0, 300) ?? ''}`;
    throw new SendError(reason, res.status >= 500 || res.status === 429, res.status, res.retryAfterMs);
  }
}
