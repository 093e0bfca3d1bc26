// Owns taking in one OTLP export request of any signal, whatever carried it (OTLP/HTTP or gRPC): decode, turn into
// rows, store once, and say how many items were refused and why.

import { createHash } from 'node:crypto';
import { decodeLogsRequestJson, decodeMetricsRequestJson, decodeTraceRequestJson } from '../../otlp/json.js';
import { countDataPoints, countLogRecords, countSpans } from '../../otlp/model.js';
import { decodeLogsRequest, decodeMetricsRequest, decodeTraceRequest } from '../../otlp/protobuf.js';
import { SIGNAL_INFO, type Signal } from '../../otlp/types.js';
import { LOG_COLUMNS, logsToRows } from '../../transform/logs.js';
import { METRIC_COLUMNS, metricsToRows } from '../../transform/metrics.js';
import { otlpToRows } from '../../transform/otlp-to-rows.js';
import { TRACE_COLUMNS, TRACE_NESTED_COLUMNS, toJsonEachRow, type RejectedItem } from '../../transform/row.js';
import { logsRequestToRows } from '../../transform/logs-wire.js';
import { traceJsonToRows } from '../../transform/traces-json.js';
import { traceRequestToRows } from '../../transform/traces-wire.js';
import { WireMismatch } from '../../otlp/wire.js';
import type { TableWriter } from './table-writer.js';

export type Encoding = 'protobuf' | 'json';

export interface Decoded {
  table: string;
  columns: readonly string[];
  /** The rows to store, as JSONEachRow text. */
  data: Buffer;
  rows: number;
  /** Items in the request (spans, log records or data points). */
  total: number;
  rejected: RejectedItem[];
}

/** How many refused items a partial-success message names one by one. */
const NAMED_REJECTIONS = 5;

/** Decodes and transforms a request body; throws OtlpDecodeError when the body is not a request of this signal. */
export function decodeExport(signal: Signal, body: Buffer, encoding: Encoding): Decoded {
  if (encoding === 'protobuf' && signal !== 'metrics') {
    // The fast path covers what exporters send; anything it does not take gets the full decode and its precise answer.
    try {
      const { data, rows } = signal === 'traces' ? traceRequestToRows(body) : logsRequestToRows(body);
      return { table: signal, columns: signal === 'traces' ? TRACE_COLUMNS_ALL : LOG_COLUMNS, data, rows, total: rows, rejected: [] };
    } catch (error) {
      if (!(error instanceof WireMismatch)) throw error;
    }
  }
  if (encoding === 'json' && signal === 'traces') {
    try {
      const { data, rows } = traceJsonToRows(body.toString('utf8'));
      return { table: 'traces', columns: TRACE_COLUMNS_ALL, data, rows, total: rows, rejected: [] };
    } catch (error) {
      if (!(error instanceof WireMismatch)) throw error;
    }
  }
  switch (signal) {
    case 'traces': {
      const request = encoding === 'json' ? decodeTraceRequestJson(body.toString('utf8')) : decodeTraceRequest(body);
      return withData('traces', TRACE_COLUMNS_ALL, countSpans(request), otlpToRows(request));
    }
    case 'logs': {
      const request = encoding === 'json' ? decodeLogsRequestJson(body.toString('utf8')) : decodeLogsRequest(body);
      return withData('logs', LOG_COLUMNS, countLogRecords(request), logsToRows(request));
    }
    case 'metrics': {
      const request = encoding === 'json' ? decodeMetricsRequestJson(body.toString('utf8')) : decodeMetricsRequest(body);
      return withData('metrics', METRIC_COLUMNS, countDataPoints(request), metricsToRows(request));
    }
  }
}

const TRACE_COLUMNS_ALL: readonly string[] = [...TRACE_COLUMNS, ...TRACE_NESTED_COLUMNS];

function withData(table: string, columns: readonly string[], total: number, result: { rows: readonly object[]; rejected: RejectedItem[] }): Decoded {
  return { table, columns, data: toJsonEachRow(result.rows), rows: result.rows.length, total, rejected: result.rejected };
}

/** Stores a decoded request once, keyed by the hash of the body it came from; rejects when the store fails. */
export function store(writer: TableWriter, decoded: Decoded, body: Buffer): Promise<void> {
  return writer.write({ table: decoded.table, columns: decoded.columns, data: decoded.data, rows: decoded.rows, token: `otlp-${createHash('sha256').update(body).digest('hex')}` });
}

/** The partial-success message: the first refused items by position and name, with why. */
export function rejectionMessage(signal: Signal, decoded: Decoded): string {
  const bad = decoded.rejected;
  if (bad.length === 0) return '';
  const what = SIGNAL_INFO[signal].items;
  const noun = what.replace(/s$/, '');
  return (
    `${bad.length} of ${decoded.total} ${what} rejected: ` +
    bad.slice(0, NAMED_REJECTIONS).map((r) => `${noun} ${r.index} (${JSON.stringify(r.name)}): ${r.reason}`).join('; ') +
    (bad.length > NAMED_REJECTIONS ? `; and ${bad.length - NAMED_REJECTIONS} more` : '')
  );
}
