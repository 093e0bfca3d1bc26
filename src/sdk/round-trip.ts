// Owns the end-to-end self-test: send a sample set through a backend, then read it back from the store.

import { randomUUID } from 'node:crypto';
import { queryRows, type ClickHouseConnection } from '../clickhouse/http-client.js';
import { AutomagikTelemetry } from './client.js';
import type { AutomagikTelemetryOptions, BackendName } from './options.js';

export interface RoundTripResult {
  backend: BackendName;
  runId: string;
  sent: number;
  found: number;
  ok: boolean;
  /** From the first send to the moment every event was readable. */
  roundTripMs: number;
  errors: string[];
}

/** The sample set: ok and error events across two projects. */
export const SAMPLE = [
  { project: 'demo-web', event: 'page.view', status: 'ok', durationMs: 12 },
  { project: 'demo-web', event: 'user.login', status: 'ok', durationMs: 85 },
  { project: 'demo-web', event: 'checkout.failed', status: 'error', durationMs: 230 },
  { project: 'demo-worker', event: 'job.run', status: 'ok', durationMs: 1200 },
  { project: 'demo-worker', event: 'job.retry', status: 'error', durationMs: 40 },
  { project: 'demo-worker', event: 'queue.drain', status: 'ok', durationMs: 7 },
] as const;

export async function roundTrip(
  backend: BackendName,
  sdkOptions: AutomagikTelemetryOptions,
  store: ClickHouseConnection & { table: string },
  timeoutMs: number,
): Promise<RoundTripResult> {
  const runId = randomUUID();
  const errors: string[] = [];
  const client = new AutomagikTelemetry({ ...sdkOptions, projectName: 'automagik-telemetry-test', backend, onError: (e) => errors.push(e.message) });
  const started = performance.now();
  for (const sample of SAMPLE) {
    client.trackEvent(sample.event, { 'test.run_id': runId, 'test.backend': backend }, { status: sample.status, durationMs: sample.durationMs, projectName: sample.project });
  }
  const flushed = await client.shutdown();
  let found = 0;
  if (flushed.sent > 0) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = await queryRows<{ n: number }>(store, `SELECT count() AS n FROM ${store.table} WHERE attributes['test.run_id'] = {run:String}`, { run: runId }).catch(
        (error: Error) => {
          errors.push(error.message);
          return [{ n: 0 }];
        },
      );
      found = rows[0]?.n ?? 0;
      if (found >= SAMPLE.length || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    backend,
    runId,
    sent: flushed.sent,
    found,
    ok: found === SAMPLE.length && flushed.sent === SAMPLE.length,
    roundTripMs: Math.round(performance.now() - started),
    errors: [...new Set(errors)],
  };
}
