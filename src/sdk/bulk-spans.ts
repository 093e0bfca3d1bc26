// Owns the OTLP path of `send --stdin`: each line made a span as the SDK makes it, batches encoded once (so every
// attempt sends the same bytes, which the receiver stores once) and sent pipelined with an outcome always known.

import { BatchQueue } from './batch-queue.js';
import type { EventSink } from './bulk.js';
import { makeEvent, spanOf, type QueuedEvent, type ResourceInfo } from './event.js';
import { OtlpBackend } from './export/otlp.js';
import type { Batch, HttpAnswer } from './export/types.js';
import { InsertPipeline, type Destination, type Outcome } from './insert-pipeline.js';
import { nodeCrypto } from './lazy-crypto.js';
import type { ResolvedOptions } from './options.js';

export interface SpanSinkOptions {
  /** Spans per request at most. */
  batchSize: number;
  resource: ResourceInfo;
  sdkVersion: string;
  scrub?: (text: string) => string;
  userId?: string;
  maxInFlight?: number;
  waitForStoreMs?: number;
  onStoreDown?: (reason: string) => void;
}

/** A sink that makes each line a span and posts full batches as OTLP export requests through the pipeline. */
export function spanSink(options: ResolvedOptions, authHint: string, sink: SpanSinkOptions): EventSink {
  const backend = new OtlpBackend(options, authHint);
  let warned = false;
  // The receiver deduplicates a request by its body: the batch's encoded bytes, the same on every attempt, are its token.
  const destination: Destination = {
    request: () => ({ url: options.endpoint, headers: {} }),
    ...(options.trust ? { trust: options.trust } : {}),
    read(answer: HttpAnswer, rows: number): Outcome {
      const batch = { id: '', signal: 'span', events: new Array<QueuedEvent>(rows), resource: sink.resource, sdkVersion: sink.sdkVersion } satisfies Batch;
      const result = backend.interpret(answer, batch);
      if (result.code === 'success') return { kind: 'stored', refused: result.rejected, message: result.message };
      if (result.code === 'retryable') return { kind: 'unknown', message: result.error.message, retryAfterMs: result.retryAfterMs };
      // OTLP calls a 500 final, yet the spans may have been stored before it failed: for an exact count the outcome
      // is unknown, and the same bytes sent again are stored once by a receiver that deduplicates (ours does).
      return answer.status >= 500 ? { kind: 'unknown', message: result.error.message } : { kind: 'refused', message: result.error.message };
    },
  };
  const pipeline = new InsertPipeline(destination, {
    maxInFlight: sink.maxInFlight ?? 2,
    timeoutMs: options.timeoutMs,
    compression: options.compression,
    waitForStoreMs: sink.waitForStoreMs ?? 60_000,
    onRetry: () => {
      if (!warned) sink.onStoreDown?.('the store did not answer; reading paused while retrying');
      warned = true;
    },
  });
  let events: QueuedEvent[] = [];
  const queue = new BatchQueue(pipeline);
  const cut = () => {
    if (events.length === 0) return;
    const batch: Batch = { id: nodeCrypto().randomUUID(), signal: 'span', events, resource: sink.resource, sdkVersion: sink.sdkVersion };
    const request = backend.serialize(batch);
    queue.add({ body: request.body, rows: events.length, target: { url: request.url, headers: request.headers } });
    events = [];
  };
  return {
    add(line) {
      const event = makeEvent(line.name, line.attributes, line.options);
      if (sink.userId !== undefined && event.attributes['user.id'] === undefined) event.attributes['user.id'] = sink.userId;
      spanOf(event, sink.scrub);
      events.push(event);
      if (events.length >= sink.batchSize) cut();
    },
    ...queue.sinkEnds(cut),
  };
}
