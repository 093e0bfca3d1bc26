// Owns sending log records and metric points to a stack's OTLP/HTTP receiver in protobuf batches: retried while the
// store is down, each batch resent byte for byte so the receiver's body hash stores it exactly once.

import { decodeExportResponse, decodeStatus, encodeLogsRequest, encodeMetricsRequest } from '../otlp/protobuf.js';
import type { OtlpLogRecord, OtlpMetric } from '../otlp/model.js';
import type { Signal } from '../otlp/types.js';
import { isTlsFailure, trustedFetch, type Trust } from '../tls/fetch.js';

export interface SignalSenderOptions {
  /** The OTLP/HTTP base URL, e.g. http://127.0.0.1:4318 (paths /v1/logs and /v1/metrics are added). */
  endpoint: string;
  /** The CA an https endpoint is verified against. */
  trust?: Trust;
  /** The Authorization header value, when the stack wants one. */
  authorization?: string;
  /** Service name on the resource; the project stands in when absent. */
  serviceName?: string;
  /** Project for records that name none. */
  projectName: string;
  batchSize?: number;
  timeoutMs?: number;
  /** How long to keep retrying a batch while the store does not answer (default 60 s). */
  waitForStoreMs?: number;
  /** Called once per outage, when a batch starts being retried. */
  onStoreDown?: (reason: string) => void;
}

export interface SignalStats {
  /** Records and points the store accepted. */
  sent: number;
  /** Records and points refused or never delivered. */
  failed: number;
  errors: string[];
}

/** Statuses the OTLP/HTTP specification calls retryable. */
const RETRYABLE = new Set([429, 502, 503, 504]);

interface Pending<T> {
  byProject: Map<string, T[]>;
  size: number;
}

export class SignalSender {
  private logs: Pending<OtlpLogRecord> = { byProject: new Map(), size: 0 };
  private metrics: Pending<OtlpMetric> = { byProject: new Map(), size: 0 };
  private metricsByKey = new Map<string, OtlpMetric>();
  private readonly stats: SignalStats = { sent: 0, failed: 0, errors: [] };

  constructor(private readonly options: SignalSenderOptions) {}

  /** Queues a log record; sends the batch first when it is full (so awaiting this is the backpressure). */
  async addLog(record: OtlpLogRecord, project?: string): Promise<void> {
    add(this.logs, project ?? this.options.projectName, record);
    if (this.logs.size >= (this.options.batchSize ?? 5000)) await this.flushLogs();
  }

  /** Queues a metric's points; points of a metric already queued (same name, kind and unit) join it, as SDKs send them. */
  async addMetric(metric: OtlpMetric, project?: string): Promise<void> {
    const key = `${project ?? this.options.projectName}\u0000${metric.name}\u0000${metric.type ?? ''}\u0000${metric.unit}\u0000${metric.temporality}\u0000${metric.isMonotonic}\u0000${metric.description}`;
    const queued = this.metricsByKey.get(key);
    if (queued) {
      queued.points.push(...metric.points);
      this.metrics.size++;
    } else {
      const copy = { ...metric, points: [...metric.points] };
      this.metricsByKey.set(key, copy);
      add(this.metrics, project ?? this.options.projectName, copy);
    }
    if (this.metrics.size >= (this.options.batchSize ?? 5000)) await this.flushMetrics();
  }

  /** Log records and metric points stored so far. */
  get sent(): number {
    return this.stats.sent;
  }

  async flush(): Promise<SignalStats> {
    await this.flushLogs();
    await this.flushMetrics();
    return { ...this.stats, errors: [...this.stats.errors] };
  }

  private resource(project: string): Record<string, string> {
    return { 'service.name': this.options.serviceName ?? project, 'project.name': project };
  }

  private async flushLogs(): Promise<void> {
    const batch = this.logs;
    this.logs = { byProject: new Map(), size: 0 };
    if (batch.size === 0) return;
    const body = encodeLogsRequest({
      resourceLogs: [...batch.byProject].map(([project, logRecords]) => ({ resource: this.resource(project), scopeLogs: [{ scopeName: 'automagik-telemetry', scopeVersion: '', logRecords }] })),
    });
    await this.send('logs', body, batch.size);
  }

  private async flushMetrics(): Promise<void> {
    const batch = this.metrics;
    this.metrics = { byProject: new Map(), size: 0 };
    this.metricsByKey = new Map();
    if (batch.size === 0) return;
    const body = encodeMetricsRequest({
      resourceMetrics: [...batch.byProject].map(([project, metrics]) => ({ resource: this.resource(project), scopeMetrics: [{ scopeName: 'automagik-telemetry', scopeVersion: '', metrics }] })),
    });
    await this.send('metrics', body, batch.size);
  }

  private async send(signal: Signal, body: Uint8Array, items: number): Promise<void> {
    const url = `${this.options.endpoint.replace(/\/+$/, '')}/v1/${signal}`;
    const deadline = Date.now() + (this.options.waitForStoreMs ?? 60_000);
    let delay = 250;
    let warned = false;
    for (;;) {
      let problem: string;
      try {
        const res = await trustedFetch(
          url,
          {
            method: 'POST',
            body,
            headers: { 'Content-Type': 'application/x-protobuf', ...(this.options.authorization ? { Authorization: this.options.authorization } : {}) },
            signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
          },
          this.options.trust,
        );
        const answer = new Uint8Array(await res.arrayBuffer());
        if (res.status === 200) {
          const partial = decodeExportResponse(signal, answer);
          this.stats.sent += items - partial.rejected;
          this.stats.failed += partial.rejected;
          if (partial.errorMessage) this.stats.errors.push(partial.errorMessage);
          return;
        }
        problem = `${url} answered ${res.status}: ${safeStatus(answer)}`;
        if (!RETRYABLE.has(res.status)) return this.fail(items, problem);
      } catch (error) {
        // An untrusted certificate does not get better by waiting: say so now, in its own words.
        if (isTlsFailure(error)) return this.fail(items, (error as Error).message);
        const cause = (error as { cause?: { code?: string } }).cause;
        problem = `cannot reach ${url}: ${cause?.code ?? (error as Error).message}`;
      }
      if (Date.now() + delay > deadline) return this.fail(items, problem);
      if (!warned) this.options.onStoreDown?.(`${problem}; retrying`);
      warned = true;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2_000);
    }
  }

  private fail(items: number, reason: string): void {
    this.stats.failed += items;
    this.stats.errors.push(reason);
  }
}

function add<T>(pending: Pending<T>, project: string, item: T): void {
  const list = pending.byProject.get(project);
  if (list) list.push(item);
  else pending.byProject.set(project, [item]);
  pending.size++;
}

function safeStatus(body: Uint8Array): string {
  try {
    return decodeStatus(body).message || '(no message)';
  } catch {
    return Buffer.from(body).toString('utf8').slice(0, 200);
  }
}
