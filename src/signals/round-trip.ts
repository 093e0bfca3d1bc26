// Owns the logs-and-metrics half of the self-test: one log line and one metric point of each kind sent over OTLP,
// then read back from the store by a run id.

import { randomUUID } from 'node:crypto';
import { queryRows, type ClickHouseConnection } from '../clickhouse/http-client.js';
import { logOf, metricOf } from './records.js';
import type { SignalSender } from './sender.js';

export interface SignalRoundTrip {
  signal: 'logs' | 'metrics';
  sent: number;
  found: number;
  ok: boolean;
  roundTripMs: number;
  errors: string[];
  /** The `test.run_id` attribute the samples carry, to find them again. */
  runId: string;
}

const PROJECT = 'automagik-telemetry-test';

export async function signalRoundTrip(sender: SignalSender, store: ClickHouseConnection & { database: string }, timeoutMs: number): Promise<SignalRoundTrip[]> {
  const run = randomUUID();
  const attributes = { 'test.run_id': run };
  const started = performance.now();
  await sender.addLog(logOf({ message: 'self-test log line', severity: 'info', attributes }), PROJECT);
  await sender.addLog(logOf({ message: 'self-test warning', severity: 'warn', attributes }), PROJECT);
  for (const kind of ['gauge', 'counter', 'histogram'] as const) await sender.addMetric(metricOf({ name: `test.${kind}`, value: 42, kind, attributes }), PROJECT);
  const stats = await sender.flush();
  const expected = { logs: 2, metrics: 3 } as const;
  const results: SignalRoundTrip[] = [];
  for (const signal of ['logs', 'metrics'] as const) {
    const errors = [...stats.errors];
    const deadline = Date.now() + timeoutMs;
    let found = 0;
    for (;;) {
      const rows = await queryRows<{ n: number }>(store, `SELECT toUInt32(count()) AS n FROM ${store.database}.${signal} WHERE attributes['test.run_id'] = {run:String}`, { run }).catch((error: Error) => {
        errors.push(error.message);
        return [{ n: 0 }];
      });
      found = rows[0]?.n ?? 0;
      if (found >= expected[signal] || Date.now() > deadline || stats.sent === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    results.push({ signal, sent: Math.min(stats.sent, expected[signal]), found, ok: found === expected[signal], roundTripMs: Math.round(performance.now() - started), errors: [...new Set(errors)], runId: run });
  }
  return results;
}
