// Owns the full batches of a `send --stdin` sink waiting for the pipeline: pushed by one pusher at a time (reading's
// backpressure and the idle flush share it), so finishing sees every batch, and the sink's ends (ready, idle, finish).

import type { EventSink, SinkResult } from './bulk.js';
import type { InsertPipeline } from './insert-pipeline.js';

interface FullBatch {
  body: Uint8Array;
  rows: number;
  target?: { url: string; headers: Record<string, string> };
}

export class BatchQueue {
  private readonly full: FullBatch[] = [];
  private pushing: Promise<void> = Promise.resolve();

  constructor(private readonly pipeline: InsertPipeline) {}

  add(batch: FullBatch): void {
    this.full.push(batch);
  }

  /** Hands every full batch to the pipeline (waiting while it has enough in flight); stops if the store gave up. */
  push(): Promise<void> {
    this.pushing = this.pushing.then(async () => {
      while (this.full.length > 0 && !this.pipeline.gaveUp) {
        const next = this.full.shift() as FullBatch;
        await this.pipeline.push(next.body, next.rows, next.target);
      }
    });
    return this.pushing;
  }

  /** The sink's ready/idle/finish/sent, around `cut`, which adds the batch being built (if any) to this queue. */
  sinkEnds(cut: () => void): Omit<EventSink, 'add'> {
    return {
      ready: async () => {
        await this.push();
        return !this.pipeline.gaveUp;
      },
      idle: () => {
        cut();
        void this.push();
      },
      finish: async (): Promise<SinkResult> => {
        cut();
        await this.push();
        const counts = await this.pipeline.finish();
        // Batches never sent because the store had gone: known not stored.
        const unsent = this.full.reduce((n, b) => n + b.rows, 0);
        return { sent: counts.sent, failed: counts.failed + unsent, unconfirmed: counts.unconfirmed, errors: counts.errors };
      },
      sent: () => this.pipeline.counts.sent,
    };
  }
}
