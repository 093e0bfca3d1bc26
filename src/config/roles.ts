// Owns the three roles of the stack's ClickHouse users: what each is for, its user name and where its password lives.

export const ROLES = ['ingest', 'reader', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface RoleSpec {
  /** Default user name (ClickHouse user in the Docker stack, login name on the embedded engine). */
  username: string;
  /** Keys in <home>/.env: the user name and the generated password. */
  dotenvUser: string;
  dotenvPassword: string;
  /** Environment variables that override the .env values for the CLI and the SDK. */
  envUser: string;
  envPassword: string;
  /** What the role may do, for help texts and `env --role`. */
  purpose: string;
}

export const ROLE_SPECS: Readonly<Record<Role, RoleSpec>> = Object.freeze({
  ingest: {
    username: 'telemetry_ingest',
    dotenvUser: 'CLICKHOUSE_INGEST_USER',
    dotenvPassword: 'CLICKHOUSE_INGEST_PASSWORD',
    // The names apps have always read: `env` prints the ingest credential under them.
    envUser: 'AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME',
    envPassword: 'AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD',
    purpose: 'apps, SDKs, the collector and `send`: OTLP and INSERT into the telemetry tables, nothing else',
  },
  reader: {
    username: 'telemetry_reader',
    dotenvUser: 'CLICKHOUSE_READER_USER',
    dotenvPassword: 'CLICKHOUSE_READER_PASSWORD',
    envUser: 'AUTOMAGIK_TELEMETRY_READER_USERNAME',
    envPassword: 'AUTOMAGIK_TELEMETRY_READER_PASSWORD',
    purpose: 'dashboards, Grafana and read-only queries: SELECT on the telemetry database',
  },
  admin: {
    username: 'telemetry',
    dotenvUser: 'CLICKHOUSE_USER',
    dotenvPassword: 'CLICKHOUSE_PASSWORD',
    envUser: 'AUTOMAGIK_TELEMETRY_ADMIN_USERNAME',
    envPassword: 'AUTOMAGIK_TELEMETRY_ADMIN_PASSWORD',
    purpose: 'the CLI itself (query, backup, restore, schema, reset): DDL and DML inside the telemetry database',
  },
});

/** The tables the ingest role may insert into (the signals apps send). */
export const INGEST_TABLES: ReadonlySet<string> = new Set(['traces', 'logs', 'metrics']);
