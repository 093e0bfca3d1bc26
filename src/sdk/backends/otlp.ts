// Owns the OTLP/HTTP backend: protobuf (or JSON) encoding with the project's .proto files, retry rules from the OTLP spec.

import { encodeTraceRequestJson } from '../../otlp/json.js';
import { decodeStatus, decodeTraceResponse, encodeTraceRequest } from '../../otlp/protobuf.js';
import { buildRequest, type ResourceInfo } from '../event.js';
import { basicAuth, post } from '../http.js';
import type { ResolvedOptions } from '../options.js';
import { SendError } from '../retry.js';
import type { Backend, Batch, BatchOutcome } from './types.js';

/** The statuses the OTLP/HTTP specification calls retryable. */
const RETRYABLE = new Set([429, 502, 503, 504]);

export class OtlpBackend implements Backend {
  readonly name = 'otlp' as const;
  readonly target: string;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly sdkVersion: string,
  ) {
    this.target = options.endpoint;
    const hasAuth = Object.keys(options.headers).some((h) => h.toLowerCase() === 'authorization');
    this.headers = {
      ...options.headers,
      'Content-Type': options.otlpProtocol === 'json' ? 'application/json' : 'application/x-protobuf',
      ...(!hasAuth && options.clickhousePassword !== undefined ? { Authorization: basicAuth(options.clickhouseUsername, options.clickhousePassword) } : {}),
    };
  }

  async send(batch: Batch, resource: ResourceInfo): Promise<BatchOutcome> {
    const request = buildRequest(batch.events, resource, this.sdkVersion);
    const body = this.options.otlpProtocol === 'json' ? Buffer.from(encodeTraceRequestJson(request)) : encodeTraceRequest(request);
    const res = await post(this.options.endpoint, body, this.headers, { timeoutMs: this.options.timeoutMs, compression: this.options.compression });
    if (res.status === 200) {
      const partial = this.partialSuccess(res.body);
      return { accepted: batch.events.length - partial.rejectedSpans, rejected: partial.rejectedSpans, message: partial.errorMessage };
    }
    const message = this.errorMessage(res.status, res.body);
    throw new SendError(message, RETRYABLE.has(res.status), res.status, res.retryAfterMs);
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
      return `authentication failed for user "${this.options.clickhouseUsername}" at ${this.options.endpoint}${detail ? ` (${detail})` : ''}`;
    }
    return `OTLP receiver at ${this.options.endpoint} answered HTTP ${status}${detail ? `: ${detail}` : ''}`;
  }
}
