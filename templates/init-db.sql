-- automagik-telemetry schema, version 1.
-- Applied on every start; every statement is idempotent (IF NOT EXISTS).
-- `telemetry` is replaced by the configured database name when the CLI applies this file.
-- schema-version: 1

CREATE DATABASE IF NOT EXISTS telemetry;

-- One row per span or event. Ordered for the common filters: a project, then a time range.
-- Daily partitions let the 90-day TTL drop whole parts instead of rewriting them.
CREATE TABLE IF NOT EXISTS telemetry.traces
(
    trace_id        String,
    span_id         String,
    parent_span_id  String DEFAULT '',
    timestamp       DateTime64(3, 'UTC'),
    service_name    LowCardinality(String),
    span_name       LowCardinality(String),
    span_kind       LowCardinality(String) DEFAULT 'INTERNAL',
    status_code     LowCardinality(String) DEFAULT 'OK',
    status_message  String DEFAULT '',
    duration_ms     UInt32 DEFAULT 0,
    project_name    LowCardinality(String),
    project_version LowCardinality(String) DEFAULT '',
    environment     LowCardinality(String) DEFAULT '',
    attributes      Map(String, String),
    -- When the row reached the store: `query-traces --follow` tails by it, so late events are never skipped.
    inserted_at     DateTime64(3, 'UTC') DEFAULT now64(3),
    CONSTRAINT status_code_known CHECK status_code IN ('OK', 'ERROR')
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (project_name, timestamp, span_name)
TTL toDateTime(timestamp) + INTERVAL 90 DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

-- Hourly rollup as aggregate states, so that percentiles stay right however many inserts feed an hour.
CREATE TABLE IF NOT EXISTS telemetry.metrics_hourly_state
(
    hour             DateTime('UTC'),
    project_name     LowCardinality(String),
    total_count      SimpleAggregateFunction(sum, UInt64),
    error_count      SimpleAggregateFunction(sum, UInt64),
    duration_ms_q    AggregateFunction(quantiles(0.5, 0.95, 0.99), UInt32)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (project_name, hour)
TTL hour + INTERVAL 90 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS telemetry.metrics_hourly_mv TO telemetry.metrics_hourly_state AS
SELECT
    toStartOfHour(timestamp)                         AS hour,
    project_name,
    count()                                          AS total_count,
    countIf(status_code = 'ERROR')                   AS error_count,
    quantilesState(0.5, 0.95, 0.99)(duration_ms)     AS duration_ms_q
FROM telemetry.traces
GROUP BY hour, project_name;

-- What people query: one finished row per project and hour.
CREATE VIEW IF NOT EXISTS telemetry.metrics_hourly AS
SELECT
    hour,
    project_name,
    sum(total_count)                                 AS total_count,
    sum(error_count)                                 AS error_count,
    quantilesMerge(0.5, 0.95, 0.99)(duration_ms_q)   AS q,
    q[1]                                             AS p50_duration_ms,
    q[2]                                             AS p95_duration_ms,
    q[3]                                             AS p99_duration_ms
FROM telemetry.metrics_hourly_state
GROUP BY hour, project_name;

-- Which schema versions were applied, and when.
CREATE TABLE IF NOT EXISTS telemetry.schema_versions
(
    version     UInt32,
    description String,
    applied_at  DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version;
