// Owns the OTLP/HTTP backend: protobuf (or JSON) encoding with the project's .proto files, answers read as the OTLP spec says.

import { TelemetryError } from '../../errors.js';
import { encodeLogsRequestJson, encodeMetricsRequestJson, encodeTraceRequestJson } from '../../otlp/json.js';
import { decodeExportResponse, decodeStatus, encodeLogsRequest, encodeMetricsRequest, encodeTraceRequest } from '../../otlp/protobuf.js';
import { buildRequest, type QueuedEvent } from '../event.js';
import { buildLogsRequest, buildMetricsRequest, type QueuedLog, type QueuedMetric } from '../signal-items.js';
import type { ResolvedOptions } from '../options.js';
import { basicAuthorization } from '../../clickhouse/auth-header.js';
import type { Backend, Batch, ExportResult, HttpAnswer, SerializedBatch, Signal } from './types.js';

/** The OTLP name of each signal (its path /v1/<name> and its partial-success field). */
const OTLP_SIGNAL = { span: 'traces', log: 'logs', metric: 'metrics' } as const satisfies Record<Signal, string>;
const REJECTED_FIELD = { span: 'rejectedSpans', log: 'rejectedLogRecords', metric: 'rejectedDataPoints' } as const satisfies Record<Signal, string>;

/**
 * The URL of a signal next to the traces endpoint: ".../v1/traces" becomes ".../v1/logs"; an endpoint with another
 * path is taken as the base the signal paths go under (as OTEL_EXPORTER_OTLP_ENDPOINT is).
 */
export function signalUrl(tracesEndpoint: string, signal: Signal): string {
  if (signal === 'span') return tracesEndpoint;
  const url = new URL(tracesEndpoint);
  const name = OTLP_SIGNAL[signal];
  url.pathname = /\/v1\/traces\/?$/.test(url.pathname) ? url.pathname.replace(/\/v1\/traces\/?$/, `/v1/${name}`) : `${url.pathname.replace(/\/+$/, '')}/v1/${name}`;
  return url.toString();
}

/** The statuses the OTLP/HTTP specification calls retryable. */
const RETRYABLE = new Set([429, 502, 503, 504]);

export class OtlpBackend implements Backend {
  readonly name = 'otlp' as const;
  readonly target: string;
  private readonly headers: Record<string, string>;
  private readonly urls: Record<Signal, string>;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly authHint: string,
  ) {
    this.target = options.endpoint;
    this.urls = { span: options.endpoint, log: signalUrl(options.endpoint, 'log'), metric: signalUrl(options.endpoint, 'metric') };
    const hasAuth = Object.keys(options.headers).some((h) => h.toLowerCase() === 'authorization');
    this.headers = {
      ...options.headers,
      'Content-Type': options.otlpProtocol === 'json' ? 'application/json' : 'application/x-protobuf',
      ...(!hasAuth && options.clickhousePassword !== undefined ? { Authorization: basicAuthorization({ username: options.clickhouseUsername, password: options.clickhousePassword }) } : {}),
    };
  }

  /** The same batch always encodes to the same bytes: the receiver deduplicates a re-sent batch by its body. */
  serialize(batch: Batch): SerializedBatch {
    const json = this.options.otlpProtocol === 'json';
    let body: Uint8Array;
    if (batch.signal === 'log') {
      const request = buildLogsRequest(batch.events as QueuedLog[], batch.resource, batch.sdkVersion);
      body = json ? Buffer.from(encodeLogsRequestJson(request)) : encodeLogsRequest(request);
    } else if (batch.signal === 'metric') {
      const request = buildMetricsRequest(batch.events as QueuedMetric[], batch.resource, batch.sdkVersion);
      body = json ? Buffer.from(encodeMetricsRequestJson(request)) : encodeMetricsRequest(request);
    } else {
      const request = buildRequest(batch.events as QueuedEvent[], batch.resource, batch.sdkVersion);
      body = json ? Buffer.from(encodeTraceRequestJson(request)) : encodeTraceRequest(request);
    }
    return { url: this.urls[batch.signal], body, headers: this.headers };
  }

  interpret(answer: HttpAnswer, batch: Batch): ExportResult {
    if (answer.status === 200) {
      const partial = this.partialSuccess(batch.signal, answer.body);
      const rejected = Math.min(batch.events.length, partial.rejected);
      return { code: 'success', accepted: batch.events.length - rejected, rejected, message: partial.errorMessage };
    }
    const error = new TelemetryError('E_OTLP', this.errorMessage(this.urls[batch.signal], answer.status, answer.body), { details: { status: answer.status } });
    return RETRYABLE.has(answer.status) ? { code: 'retryable', error, retryAfterMs: answer.retryAfterMs } : { code: 'failed', error };
  }

  private partialSuccess(signal: Signal, body: Uint8Array): { rejected: number; errorMessage: string } {
    if (body.length === 0) return { rejected: 0, errorMessage: '' };
    try {
      if (this.options.otlpProtocol === 'json') {
        const parsed = JSON.parse(Buffer.from(body).toString('utf8')) as { partialSuccess?: Record<string, string | number | undefined> };
        const rejected = Number(parsed.partialSuccess?.[REJECTED_FIELD[signal]] ?? 0);
        return { rejected: Number.isFinite(rejected) ? rejected : 0, errorMessage: String(parsed.partialSuccess?.errorMessage ?? '') };
      }
      return decodeExportResponse(OTLP_SIGNAL[signal], body);
    } catch {
      // A 200 whose body we cannot read still means the data was accepted.
      return { rejected: 0, errorMessage: '' };
    }
  }

  private errorMessage(url: string, status: number, body: Uint8Array): string {
    let detail = '';
    try {
      detail = this.options.otlpProtocol === 'json' ? String((JSON.parse(Buffer.from(body).toString('utf8')) as { message?: string }).message ?? '') : decodeStatus(body).message;
    } catch {
      detail = Buffer.from(body).toString('utf8').slice(0, 200);
    }
    if (status === 401 || status === 403) {
      return `authentication failed for user "${this.options.clickhouseUsername}" at ${url}${detail ? ` (${detail})` : ''}: ${this.authHint}`;
    }
    return `OTLP receiver at ${url} answered HTTP ${status}${detail ? `: ${detail}` : ''}`;
  }
}
