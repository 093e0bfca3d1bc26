// Owns the retry policy both backends share: which failures are retried, exponential backoff with jitter, Retry-After.

export class SendError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    /** From Retry-After, when the server sent one. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SendError';
  }
}

export interface RetryPolicy {
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: Omit<RetryPolicy, 'maxRetries'> = { baseDelayMs: 100, maxDelayMs: 5_000 };

/** Delay before retry number `attempt` (1-based): base * 2^(attempt-1), full jitter, capped; Retry-After wins when given. */
export function backoffDelay(attempt: number, policy: RetryPolicy, retryAfterMs?: number, random = Math.random): number {
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

export interface RetryOutcome<T> {
  value: T;
  retries: number;
}

/** Runs `attempt` until it succeeds, fails with a non-retryable error, or the retries are spent (then the last error). */
export async function withRetries<T>(
  attempt: () => Promise<T>,
  policy: RetryPolicy,
  onRetry: (error: SendError, retry: number, delayMs: number) => void = () => undefined,
): Promise<RetryOutcome<T>> {
  for (let retry = 0; ; retry++) {
    try {
      return { value: await attempt(), retries: retry };
    } catch (error) {
      const failure = error instanceof SendError ? error : new SendError(String((error as Error)?.message ?? error), false, undefined, undefined, { cause: error });
      if (!failure.retryable || retry >= policy.maxRetries) throw Object.assign(failure, { retries: retry });
      const delay = backoffDelay(retry + 1, policy, failure.retryAfterMs);
      onRetry(failure, retry + 1, delay);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
