// Owns estimating a quantile from explicit-bucket histogram counts (OTLP's bucket_counts and explicit_bounds).

/**
 * The q-quantile (0 < q < 1) of observations counted in buckets: bucket i holds (bounds[i-1], bounds[i]], the last
 * one (bounds[n-1], +inf). The value is interpolated linearly inside the bucket the rank falls in, as Prometheus'
 * histogram_quantile does; the first bucket starts at `min` (else 0, or its bound if that is negative) and the last
 * ends at `max` (else its lower bound). Undefined when nothing was observed.
 */
export function bucketQuantile(q: number, counts: readonly number[], bounds: readonly number[], min?: number | null, max?: number | null): number | undefined {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total <= 0 || counts.length !== bounds.length + 1) return undefined;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i] as number;
    if (count > 0 && below + count >= rank) {
      const first = bounds[0] as number | undefined;
      const lower = i === 0 ? (min ?? Math.min(0, first ?? 0)) : (bounds[i - 1] as number);
      const upper = i === bounds.length ? (max ?? lower) : (bounds[i] as number);
      let value = lower + (upper - lower) * ((rank - below) / count);
      if (min !== undefined && min !== null) value = Math.max(value, min);
      if (max !== undefined && max !== null) value = Math.min(value, max);
      return value;
    }
    below += count;
  }
  return max ?? (bounds[bounds.length - 1] as number);
}
