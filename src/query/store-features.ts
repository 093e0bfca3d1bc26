// Owns knowing which optional parts of the schema a store has (span events and links, the logs table), asked once.
import { queryRows, type ClickHouseConnection } from '../clickhouse/http-client.js';
import { describeError } from '../errors.js';

export interface StoreFeatures {
  /** `traces.events` Nested(timestamp, name, attributes). */
  events: boolean;
  /** `traces.links` Nested(trace_id, span_id, attributes). */
  links: boolean;
  /** A `logs` table. */
  logs: boolean;
  /** Why the store could not be asked (then nothing optional is read, and it is asked again next time). */
  error?: string;
}

/** A store without a feature is asked again after this long (a schema upgrade may add it); one with it, never. */
const RECHECK_MS = 60_000;

/** Reads the store's features, cached per database for the life of the process. */
export function storeFeatures(connection: ClickHouseConnection, database: string): () => Promise<StoreFeatures> {
  let known: { features: StoreFeatures; at: number } | undefined;
  let pending: Promise<StoreFeatures> | undefined;
  const ask = async (): Promise<StoreFeatures> => {
    const columns = await queryRows<{ name: string }>(
      connection,
      "SELECT name FROM system.columns WHERE database = {db:String} AND table = 'traces' AND name IN ('events.timestamp', 'events.name', 'events.attributes', 'links.trace_id', 'links.span_id', 'links.attributes')",
      { db: database },
    );
    const tables = await queryRows<{ name: string }>(connection, "SELECT name FROM system.tables WHERE database = {db:String} AND name = 'logs'", { db: database });
    const has = new Set(columns.map((c) => c.name));
    return {
      events: has.has('events.timestamp') && has.has('events.name') && has.has('events.attributes'),
      links: has.has('links.trace_id') && has.has('links.span_id') && has.has('links.attributes'),
      logs: tables.length > 0,
    };
  };
  return async () => {
    const complete = known && known.features.events && known.features.links && known.features.logs;
    if (known && (complete || Date.now() - known.at < RECHECK_MS)) return known.features;
    pending ??= ask().then(
      (features) => {
        known = { features, at: Date.now() };
        pending = undefined;
        return features;
      },
      (error: unknown) => {
        pending = undefined;
        // The spans do not need these: read without them rather than fail the whole trace.
        return { events: false, links: false, logs: false, error: describeError(error).split('\n')[0] ?? 'unknown error' };
      },
    );
    return pending;
  };
}
