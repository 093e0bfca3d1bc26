// Owns the retry policy both backends share: exponential backoff with jitter, Retry-After, as a wrapper around an export.

import type { Export, ExportResult } from './types.js';

export interface RetryPolicy {
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: Omit<RetryPolicy, 'maxRetries'> = { baseDelayMs: 100, maxDelayMs: 5_000 };

/** Delay before retry number `attempt` (1-based): base * 2^(attempt-1), half of it jittered, capped; Retry-After wins when given. */
export function backoffDelay(attempt: number, policy: Omit<RetryPolicy, 'maxRetries'>, retryAfterMs?: number, random = Math.random): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxDelayMs * 6);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Retry-After as milliseconds: delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

export type OnRetry = (result: Extract<ExportResult, { code: 'retryable' }>, retry: number, delayMs: number) => void;

/**
 * Wraps an export: a retryable result is tried again after a backoff, up to maxRetries times; the last result
 * (success, failed, or still retryable when the retries are spent) is what the wrapper returns.
 */
export function retrying(attempt: Export, policy: RetryPolicy, onRetry: OnRetry = () => undefined, sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))): Export {
  return async (batch) => {
    for (let retry = 0; ; retry++) {
      const result = await attempt(batch);
      if (result.code !== 'retryable' || retry >= policy.maxRetries) return result;
      const delay = backoffDelay(retry + 1, policy, result.retryAfterMs);
      onRetry(result, retry + 1, delay);
      await sleep(delay);
    }
  };
}
