// Owns the OTLP/HTTP backend: protobuf (or JSON) encoding with the project's .proto files, answers read as the OTLP spec says.

import { TelemetryError } from '../../errors.js';
import { encodeTraceRequestJson } from '../../otlp/json.js';
import { decodeStatus, decodeTraceResponse, encodeTraceRequest } from '../../otlp/protobuf.js';
import { buildRequest } from '../event.js';
import type { ResolvedOptions } from '../options.js';
import { basicAuthorization } from '../../clickhouse/auth-header.js';
import type { Backend, Batch, ExportResult, HttpAnswer, SerializedBatch } from './types.js';

/** The statuses the OTLP/HTTP specification calls retryable. */
const RETRYABLE = new Set([429, 502, 503, 504]);

export class OtlpBackend implements Backend {
  readonly name = 'otlp' as const;
  readonly target: string;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly authHint: string,
  ) {
    this.target = options.endpoint;
    const hasAuth = Object.keys(options.headers).some((h) => h.toLowerCase() === 'authorization');
    this.headers = {
      ...options.headers,
      'Content-Type': options.otlpProtocol === 'json' ? 'application/json' : 'application/x-protobuf',
      ...(!hasAuth && options.clickhousePassword !== undefined ? { Authorization: basicAuthorization({ username: options.clickhouseUsername, password: options.clickhousePassword }) } : {}),
    };
  }

  /** The same batch always encodes to the same bytes: the receiver deduplicates a re-sent batch by its body. */
  serialize(batch: Batch): SerializedBatch {
    const request = buildRequest(batch.events, batch.resource, batch.sdkVersion);
    const body = this.options.otlpProtocol === 'json' ? Buffer.from(encodeTraceRequestJson(request)) : encodeTraceRequest(request);
    return { url: this.options.endpoint, body, headers: this.headers };
  }

  interpret(answer: HttpAnswer, batch: Batch): ExportResult {
    if (answer.status === 200) {
      const partial = this.partialSuccess(answer.body);
      return { code: 'success', accepted: batch.events.length - partial.rejectedSpans, rejected: partial.rejectedSpans, message: partial.errorMessage };
    }
    const error = new TelemetryError('E_OTLP', this.errorMessage(answer.status, answer.body), { details: { status: answer.status } });
    return RETRYABLE.has(answer.status) ? { code: 'retryable', error, retryAfterMs: answer.retryAfterMs } : { code: 'failed', error };
  }

  private partialSuccess(body: Uint8Array): { rejectedSpans: number; errorMessage: string } {
    if (body.length === 0) return { rejectedSpans: 0, errorMessage: '' };
    try {
      if (this.options.otlpProtocol === 'json') {
        const parsed = JSON.parse(Buffer.from(body).toString('utf8')) as { partialSuccess?: { rejectedSpans?: string | number; errorMessage?: string } };
        return { rejectedSpans: Number(parsed.partialSuccess?.rejectedSpans ?? 0), errorMessage: parsed.partialSuccess?.errorMessage ?? '' };
      }
      return decodeTraceResponse(body);
    } catch {
      // A 200 whose body we cannot read still means the data was accepted.
      return { rejectedSpans: 0, errorMessage: '' };
    }
  }

  private errorMessage(status: number, body: Uint8Array): string {
    let detail = '';
    try {
      detail = this.options.otlpProtocol === 'json' ? String((JSON.parse(Buffer.from(body).toString('utf8')) as { message?: string }).message ?? '') : decodeStatus(body).message;
    } catch {
      detail = Buffer.from(body).toString('utf8').slice(0, 200);
    }
    if (status === 401 || status === 403) {
      return `authentication failed for user "${this.options.clickhouseUsername}" at ${this.options.endpoint}${detail ? ` (${detail})` : ''}: ${this.authHint}`;
    }
    return `OTLP receiver at ${this.options.endpoint} answered HTTP ${status}${detail ? `: ${detail}` : ''}`;
  }
}
