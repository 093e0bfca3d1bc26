// Owns assembling the export pipeline for the configured backend: serializer -> transport -> retries, loaded on
// first use so that importing the SDK does not load the exporters (nor protobufjs).

import type { ResolvedOptions } from '../options.js';
import type { Export } from './types.js';

/** The export pipeline for the configured backend, loaded on first use: serializer -> transport -> retries. */
export async function loadExport(options: ResolvedOptions, authHint: string, onRetry: (retry: number, delayMs: number, message: string) => void): Promise<Export> {
  const [{ httpExport }, { retrying, DEFAULT_RETRY }] = await Promise.all([import('./transport.js'), import('./retrying.js')]);
  const backend =
    options.backend === 'clickhouse'
      ? new (await import('./clickhouse.js')).ClickHouseBackend(options, authHint)
      : new (await import('./otlp.js')).OtlpBackend(options, authHint);
  return retrying(httpExport(backend, { timeoutMs: options.timeoutMs, compression: options.compression, ...(options.trust ? { trust: options.trust } : {}) }), { ...DEFAULT_RETRY, maxRetries: options.maxRetries }, (result, retry, delay) =>
    onRetry(retry, delay, result.error.message),
  );
}
