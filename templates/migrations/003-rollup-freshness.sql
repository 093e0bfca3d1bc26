-- automagik-telemetry schema, version 3: rollups that always agree with the raw rows.
-- `telemetry` is replaced by the configured database name when the CLI applies this file.
-- schema-version: 3
--
-- The hourly rollups hold aggregate states of the rows inserted up to a watermark; rows inserted after it are
-- aggregated when read. The embedded engine advances the watermark itself (every second, from the raw rows: an insert
-- that fails half-way can never leave the rollup short); the Docker stack keeps its materialized views and has no
-- watermark, so nothing is read twice. `schema check` compares both with the raw rows hour by hour and rebuilds hours
-- that differ.

CREATE TABLE IF NOT EXISTS telemetry.rollup_watermarks
(
    rollup     LowCardinality(String),
    watermark  DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY rollup;

-- Finding the rows after a watermark reads only the newest parts.
ALTER TABLE telemetry.traces ADD INDEX IF NOT EXISTS inserted_at_index inserted_at TYPE minmax GRANULARITY 1;
ALTER TABLE telemetry.traces MATERIALIZE INDEX inserted_at_index;
ALTER TABLE telemetry.metrics ADD INDEX IF NOT EXISTS inserted_at_index inserted_at TYPE minmax GRANULARITY 1;
ALTER TABLE telemetry.metrics MATERIALIZE INDEX inserted_at_index;

-- The stored states plus the states of the rows after the watermark (none without a watermark).
CREATE OR REPLACE VIEW telemetry.metrics_hourly_states AS
SELECT hour, project_name, total_count, error_count, duration_ms_q
FROM telemetry.metrics_hourly_state
UNION ALL
SELECT
    toStartOfHour(timestamp)                         AS hour,
    project_name,
    count()                                          AS total_count,
    countIf(status_code = 'ERROR')                   AS error_count,
    quantilesState(0.5, 0.95, 0.99)(duration_ms)     AS duration_ms_q
FROM telemetry.traces
WHERE inserted_at > (SELECT if(count() = 0, toDateTime64('2299-12-31 23:59:59', 3, 'UTC'), max(watermark)) FROM telemetry.rollup_watermarks WHERE rollup = 'metrics_hourly')
GROUP BY hour, project_name;

CREATE OR REPLACE VIEW telemetry.metrics_hourly AS
SELECT
    hour,
    project_name,
    sum(total_count)                                 AS total_count,
    sum(error_count)                                 AS error_count,
    quantilesMerge(0.5, 0.95, 0.99)(duration_ms_q)   AS q,
    q[1]                                             AS p50_duration_ms,
    q[2]                                             AS p95_duration_ms,
    q[3]                                             AS p99_duration_ms
FROM telemetry.metrics_hourly_states
GROUP BY hour, project_name;

CREATE OR REPLACE VIEW telemetry.metric_points_hourly_states AS
SELECT hour, project_name, metric_name, metric_type, unit, points, value_sum, value_min, value_max, value_last, obs_count, obs_sum
FROM telemetry.metric_points_hourly_state
UNION ALL
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
WHERE inserted_at > (SELECT if(count() = 0, toDateTime64('2299-12-31 23:59:59', 3, 'UTC'), max(watermark)) FROM telemetry.rollup_watermarks WHERE rollup = 'metric_points_hourly')
GROUP BY hour, project_name, metric_name, metric_type, unit;

CREATE OR REPLACE VIEW telemetry.metric_points_hourly AS
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
FROM telemetry.metric_points_hourly_states
GROUP BY hour, project_name, metric_name, metric_type, unit;
