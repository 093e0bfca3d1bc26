-- automagik-telemetry schema, version 2: logs, metric data points, and span events and links.
-- Applied once to a store at version 1 (rows already stored stay as they are); a new store gets it right after version 1.
-- `telemetry` is replaced by the configured database name when the CLI applies this file.
-- schema-version: 2

-- Span events (a recorded exception lives in one: exception.type, exception.message, exception.stacktrace) and
-- links to other spans. Existing rows read as spans with no events and no links.
ALTER TABLE telemetry.traces
    ADD COLUMN IF NOT EXISTS events Nested(timestamp DateTime64(9, 'UTC'), name String, attributes Map(String, String)),
    ADD COLUMN IF NOT EXISTS links Nested(trace_id String, span_id String, attributes Map(String, String));

-- One row per log record. Ordered for "a service's logs in a time range"; the trace_id skip index serves
-- "the logs of one trace" without a scan of every part.
CREATE TABLE IF NOT EXISTS telemetry.logs
(
    timestamp          DateTime64(9, 'UTC'),
    observed_timestamp DateTime64(9, 'UTC'),
    trace_id           String DEFAULT '',
    span_id            String DEFAULT '',
    severity_text      LowCardinality(String) DEFAULT '',
    severity_number    UInt8 DEFAULT 0,
    body               String,
    service_name       LowCardinality(String),
    project_name       LowCardinality(String),
    project_version    LowCardinality(String) DEFAULT '',
    environment        LowCardinality(String) DEFAULT '',
    attributes         Map(String, String),
    scope_name         LowCardinality(String) DEFAULT '',
    -- When the row reached the store: `query-logs --follow` tails by it, so late records are never skipped.
    inserted_at        DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX trace_id_index trace_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (service_name, timestamp)
TTL toDateTime(timestamp) + INTERVAL 90 DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

-- One row per metric data point, whatever the metric's kind: gauges and sums fill `value`; histograms fill count,
-- sum, min, max, bucket_counts and explicit_bounds; exponential histograms count, sum, min, max and the exp_* columns;
-- summaries count, sum and quantiles.
CREATE TABLE IF NOT EXISTS telemetry.metrics
(
    timestamp           DateTime64(9, 'UTC'),
    start_timestamp     DateTime64(9, 'UTC') DEFAULT 0,
    metric_name         LowCardinality(String),
    metric_type         LowCardinality(String),
    value               Float64 DEFAULT 0,
    count               UInt64 DEFAULT 0,
    sum                 Float64 DEFAULT 0,
    min                 Nullable(Float64),
    max                 Nullable(Float64),
    bucket_counts       Array(UInt64),
    explicit_bounds     Array(Float64),
    exp_scale           Int32 DEFAULT 0,
    exp_zero_count      UInt64 DEFAULT 0,
    exp_positive_offset Int32 DEFAULT 0,
    exp_positive_counts Array(UInt64),
    exp_negative_offset Int32 DEFAULT 0,
    exp_negative_counts Array(UInt64),
    quantiles           Array(Tuple(quantile Float64, value Float64)),
    is_monotonic        Bool DEFAULT false,
    temporality         LowCardinality(String) DEFAULT '',
    unit                LowCardinality(String) DEFAULT '',
    description         String DEFAULT '',
    service_name        LowCardinality(String),
    project_name        LowCardinality(String),
    project_version     LowCardinality(String) DEFAULT '',
    environment         LowCardinality(String) DEFAULT '',
    attributes          Map(String, String),
    scope_name          LowCardinality(String) DEFAULT '',
    inserted_at         DateTime64(3, 'UTC') DEFAULT now64(3),
    CONSTRAINT metric_type_known CHECK metric_type IN ('gauge', 'sum', 'histogram', 'exponential_histogram', 'summary'),
    CONSTRAINT temporality_known CHECK temporality IN ('', 'delta', 'cumulative')
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (project_name, metric_name, timestamp)
TTL toDateTime(timestamp) + INTERVAL 90 DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

-- Hourly rollup of data points per project, metric and series-free shape, for charts over long ranges: the number
-- of points, the value's sum/min/max and last value (gauges and sums), and the observations' count and sum
-- (histograms and summaries).
CREATE TABLE IF NOT EXISTS telemetry.metric_points_hourly_state
(
    hour         DateTime('UTC'),
    project_name LowCardinality(String),
    metric_name  LowCardinality(String),
    metric_type  LowCardinality(String),
    unit         LowCardinality(String),
    points       SimpleAggregateFunction(sum, UInt64),
    value_sum    SimpleAggregateFunction(sum, Float64),
    value_min    SimpleAggregateFunction(min, Float64),
    value_max    SimpleAggregateFunction(max, Float64),
    value_last   AggregateFunction(argMax, Float64, DateTime64(9, 'UTC')),
    obs_count    SimpleAggregateFunction(sum, UInt64),
    obs_sum      SimpleAggregateFunction(sum, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (project_name, metric_name, metric_type, unit, hour)
TTL hour + INTERVAL 90 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS telemetry.metric_points_hourly_mv TO telemetry.metric_points_hourly_state AS
SELECT
    toStartOfHour(timestamp)          AS hour,
    project_name,
    metric_name,
    metric_type,
    unit,
    count()                           AS points,
    sum(value)                        AS value_sum,
    min(value)                        AS value_min,
    max(value)                        AS value_max,
    argMaxState(value, timestamp)     AS value_last,
    sum(count)                        AS obs_count,
    sum(sum)                          AS obs_sum
FROM telemetry.metrics
GROUP BY hour, project_name, metric_name, metric_type, unit;

-- What people query: one finished row per project, metric and hour.
CREATE VIEW IF NOT EXISTS telemetry.metric_points_hourly AS
SELECT
    hour,
    project_name,
    metric_name,
    metric_type,
    unit,
    sum(points)                       AS points,
    sum(value_sum)                    AS value_sum,
    min(value_min)                    AS value_min,
    max(value_max)                    AS value_max,
    argMaxMerge(value_last)           AS value_last,
    sum(obs_count)                    AS obs_count,
    sum(obs_sum)                      AS obs_sum
FROM telemetry.metric_points_hourly_state
GROUP BY hour, project_name, metric_name, metric_type, unit;
