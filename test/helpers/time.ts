/** A moment `agoMs` before now, inside the 90-day TTL, as DateTime64(3) text in UTC. */
export function recent(agoMs = 60_000): string {
  return new Date(Date.now() - agoMs).toISOString().replace('T', ' ').replace('Z', '');
}

/** The same moment as OTLP nanoseconds since the epoch, in a decimal string. */
export function recentNanos(agoMs = 60_000): string {
  return `${BigInt(Date.now() - agoMs) * 1_000_000n}`;
}
