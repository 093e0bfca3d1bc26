-- The Docker stack's routes from the collector's tables into `traces`, `logs` and `metrics`.
-- The contrib ClickHouse exporter (create_schema: false) inserts into otel_traces, otel_logs and otel_metrics_<kind>;
-- this file creates them, with the columns the pinned exporter (0.115) inserts, as Null tables: they keep no rows, and
-- a materialized view on each maps every inserted row exactly as the embedded receiver does (src/transform/:
-- otlp-to-rows.ts, logs.ts, metrics.ts) into the stack's own tables, so each span, record and point is stored once,
-- with the stack's retention. `start` applies it before the collector starts (and before the ingest user exists), so
-- no row arrives before its view. A store from before this change keeps its MergeTree otel_* tables (as the
-- exporter or an earlier route made them); `start` sets their TTL to the retention like every other table's.
-- The metric views read only columns every exporter version since the metrics tables appeared has written.
-- schema-version: 1

CREATE TABLE IF NOT EXISTS telemetry.otel_traces
(
    Timestamp          DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId            String CODEC(ZSTD(1)),
    SpanId             String CODEC(ZSTD(1)),
    ParentSpanId       String CODEC(ZSTD(1)),
    TraceState         String CODEC(ZSTD(1)),
    SpanName           LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind           LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName        LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName          String CODEC(ZSTD(1)),
    ScopeVersion       String CODEC(ZSTD(1)),
    SpanAttributes     Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration           UInt64 CODEC(ZSTD(1)),
    StatusCode         LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage      String CODEC(ZSTD(1)),
    Events Nested
    (
        Timestamp  DateTime64(9),
        Name       LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested
    (
        TraceId    String,
        SpanId     String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1))
)
ENGINE = Null;

-- Version 2 of the route also carries span events and links. A stack started by version 1 has the old route: the new
-- one is created first and the old one dropped right after, so no span is ever without a route.
CREATE MATERIALIZED VIEW IF NOT EXISTS telemetry.otel_traces_route_v2 TO telemetry.traces AS
SELECT
    TraceId                                                            AS trace_id,
    SpanId                                                             AS span_id,
    ParentSpanId                                                       AS parent_span_id,
    toDateTime64(Timestamp, 3, 'UTC')                                  AS timestamp,
    if(ServiceName = '', 'unknown_service', ServiceName)               AS service_name,
    SpanName                                                           AS span_name,
    upper(replaceRegexpOne(SpanKind, '^(SPAN_KIND_|SPANKIND)', ''))    AS span_kind,
    if(positionCaseInsensitive(StatusCode, 'error') > 0, 'ERROR', 'OK') AS status_code,
    StatusMessage                                                      AS status_message,
    toUInt32(least(round(Duration / 1000000), 4294967295))             AS duration_ms,
    multiIf(ResourceAttributes['project.name'] != '', ResourceAttributes['project.name'],
            SpanAttributes['project.name'] != '', SpanAttributes['project.name'],
            service_name)                                              AS project_name,
    multiIf(ResourceAttributes['project.version'] != '', ResourceAttributes['project.version'],
            ResourceAttributes['service.version'])                     AS project_version,
    multiIf(ResourceAttributes['deployment.environment.name'] != '', ResourceAttributes['deployment.environment.name'],
            ResourceAttributes['deployment.environment'] != '', ResourceAttributes['deployment.environment'],
            ResourceAttributes['environment'])                         AS environment,
    mapUpdate(
        mapFilter((k, v) -> k NOT IN ('service.name', 'project.name', 'project.version', 'service.version',
                                      'deployment.environment.name', 'deployment.environment', 'environment'),
                  CAST(ResourceAttributes, 'Map(String, String)')),
        CAST(SpanAttributes, 'Map(String, String)'))                   AS attributes,
    arrayMap(t -> toDateTime64(t, 9, 'UTC'), Events.Timestamp)        AS `events.timestamp`,
    CAST(Events.Name, 'Array(String)')                                 AS `events.name`,
    CAST(Events.Attributes, 'Array(Map(String, String))')              AS `events.attributes`,
    Links.TraceId                                                      AS `links.trace_id`,
    Links.SpanId                                                       AS `links.span_id`,
    CAST(Links.Attributes, 'Array(Map(String, String))')               AS `links.attributes`
FROM telemetry.otel_traces;

DROP VIEW IF EXISTS telemetry.otel_traces_route;


CREATE TABLE IF NOT EXISTS telemetry.otel_logs
(
    Timestamp          DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TimestampTime      DateTime DEFAULT toDateTime(Timestamp),
    TraceId            String CODEC(ZSTD(1)),
    SpanId             String CODEC(ZSTD(1)),
    TraceFlags         UInt8,
    SeverityText       LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber     UInt8,
    ServiceName        LowCardinality(String) CODEC(ZSTD(1)),
    Body               String CODEC(ZSTD(1)),
    ResourceSchemaUrl  LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeSchemaUrl     LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName          String CODEC(ZSTD(1)),
    ScopeVersion       LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes    Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    LogAttributes      Map(LowCardinality(String), String) CODEC(ZSTD(1))
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS telemetry.otel_logs_route TO telemetry.logs AS
SELECT
    toDateTime64(Timestamp, 9, 'UTC')                                  AS timestamp,
    toDateTime64(Timestamp, 9, 'UTC')                                  AS observed_timestamp,
    TraceId                                                            AS trace_id,
    SpanId                                                             AS span_id,
    if(SeverityText != '' OR SeverityNumber NOT BETWEEN 1 AND 24, SeverityText,
       concat(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'][intDiv(SeverityNumber - 1, 4) + 1],
              if((SeverityNumber - 1) % 4 = 0, '', toString((SeverityNumber - 1) % 4 + 1)))) AS severity_text,
    SeverityNumber                                                     AS severity_number,
    Body                                                               AS body,
    if(ServiceName = '', 'unknown_service', ServiceName)               AS service_name,
    multiIf(ResourceAttributes['project.name'] != '', ResourceAttributes['project.name'],
            LogAttributes['project.name'] != '', LogAttributes['project.name'],
            service_name)                                              AS project_name,
    multiIf(ResourceAttributes['project.version'] != '', ResourceAttributes['project.version'],
            ResourceAttributes['service.version'])                     AS project_version,
    multiIf(ResourceAttributes['deployment.environment.name'] != '', ResourceAttributes['deployment.environment.name'],
            ResourceAttributes['deployment.environment'] != '', ResourceAttributes['deployment.environment'],
            ResourceAttributes['environment'])                         AS environment,
    mapUpdate(
        mapFilter((k, v) -> k NOT IN ('service.name', 'project.name', 'project.version', 'service.version',
                                      'deployment.environment.name', 'deployment.environment', 'environment'),
                  CAST(ResourceAttributes, 'Map(String, String)')),
        CAST(LogAttributes, 'Map(String, String)'))                    AS attributes,
    ScopeName                                                          AS scope_name
FROM telemetry.otel_logs;

-- Metrics: one table per kind on the exporter's side, one view each into `metrics`. The service comes from the
-- resource attributes, which every exporter version writes (ServiceName is a later column).

CREATE TABLE IF NOT EXISTS telemetry.otel_metrics_gauge
(
    ResourceAttributes    Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl     String CODEC(ZSTD(1)),
    ScopeName             String CODEC(ZSTD(1)),
    ScopeVersion          String CODEC(ZSTD(1)),
    ScopeAttributes       Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl        String CODEC(ZSTD(1)),
    ServiceName           LowCardinality(String) CODEC(ZSTD(1)),
    MetricName            String CODEC(ZSTD(1)),
    MetricDescription     String CODEC(ZSTD(1)),
    MetricUnit            String CODEC(ZSTD(1)),
    Attributes            Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix         DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix              DateTime64(9) CODEC(Delta, ZSTD(1)),
    Value                 Float64 CODEC(ZSTD(1)),
    Flags                 UInt32 CODEC(ZSTD(1)),
    Exemplars Nested
    (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix           DateTime64(9),
        Value              Float64,
        SpanId             String,
        TraceId            String
    ) CODEC(ZSTD(1))
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS telemetry.otel_metrics_gauge_route TO telemetry.metrics AS
SELECT
    toDateTime64(TimeUnix, 9, 'UTC')                                   AS timestamp,
    toDateTime64(StartTimeUnix, 9, 'UTC')                              AS start_timestamp,
    MetricName                                                         AS metric_name,
    'gauge'                                                           AS metric_type,
    Value AS value,
    MetricUnit                                                         AS unit,
    MetricDescription                                                  AS description,
    if(ResourceAttributes['service.name'] = '', 'unknown_service', ResourceAttributes['service.name']) AS service_name,
    multiIf(ResourceAttributes['project.name'] != '', ResourceAttributes['project.name'],
            Attributes['project.name'] != '', Attributes['project.name'],
            service_name)                                              AS project_name,
    multiIf(ResourceAttributes['project.version'] != '', ResourceAttributes['project.version'],
            ResourceAttributes['service.version'])                     AS project_version,
    multiIf(ResourceAttributes['deployment.environment.name'] != '', ResourceAttributes['deployment.environment.name'],
            ResourceAttributes['deployment.environment'] != '', ResourceAttributes['deployment.environment'],
            ResourceAttributes['environment'])                         AS environment,
    mapUpdate(
        mapFilter((k, v) -> k NOT IN ('service.name', 'project.name', 'project.version', 'service.version',
                                      'deployment.environment.name', 'deployment.environment', 'environment'),
                  CAST(ResourceAttributes, 'Map(String, String)')),
        CAST(Attributes, 'Map(String, String)'))                       AS attributes,
    ScopeName                                                          AS scope_name
FROM telemetry.otel_metrics_gauge;

CREATE TABLE IF NOT EXISTS telemetry.otel_metrics_sum
(
    ResourceAttributes    Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl     String CODEC(ZSTD(1)),
    ScopeName             String CODEC(ZSTD(1)),
    ScopeVersion          String CODEC(ZSTD(1)),
    ScopeAttributes       Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl        String CODEC(ZSTD(1)),
    ServiceName           LowCardinality(String) CODEC(ZSTD(1)),
    MetricName            String CODEC(ZSTD(1)),
    MetricDescription     String CODEC(ZSTD(1)),
    MetricUnit            String CODEC(ZSTD(1)),
    Attributes            Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix         DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix              DateTime64(9) CODEC(Delta, ZSTD(1)),
    Value                 Float64 CODEC(ZSTD(1)),
    Flags                 UInt32 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    IsMonotonic           Boolean CODEC(Delta, ZSTD(1)),
    Exemplars Nested
    (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix           DateTime64(9),
        Value              Float64,
        SpanId             String,
        TraceId            String
    ) CODEC(ZSTD(1))
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS telemetry.otel_metrics_sum_route TO telemetry.metrics AS
SELECT
    toDateTime64(TimeUnix, 9, 'UTC')                                   AS timestamp,
    toDateTime64(StartTimeUnix, 9, 'UTC')                              AS start_timestamp,
    MetricName                                                         AS metric_name,
    'sum'                                                           AS metric_type,
    Value AS value,
    IsMonotonic AS is_monotonic,
    multiIf(AggregationTemporality = 1, 'delta', AggregationTemporality = 2, 'cumulative', '') AS temporality,
    MetricUnit                                                         AS unit,
    MetricDescription                                                  AS description,
    if(ResourceAttributes['service.name'] = '', 'unknown_service', ResourceAttributes['service.name']) AS service_name,
    multiIf(ResourceAttributes['project.name'] != '', ResourceAttributes['project.name'],
            Attributes['project.name'] != '', Attributes['project.name'],
            service_name)                                              AS project_name,
    multiIf(ResourceAttributes['project.version'] != '', ResourceAttributes['project.version'],
            ResourceAttributes['service.version'])                     AS project_version,
    multiIf(ResourceAttributes['deployment.environment.name'] != '', ResourceAttributes['deployment.environment.name'],
            ResourceAttributes['deployment.environment'] != '', ResourceAttributes['deployment.environment'],
            ResourceAttributes['environment'])                         AS environment,
    mapUpdate(
        mapFilter((k, v) -> k NOT IN ('service.name', 'project.name', 'project.version', 'service.version',
                                      'deployment.environment.name', 'deployment.environment', 'environment'),
                  CAST(ResourceAttributes, 'Map(String, String)')),
        CAST(Attributes, 'Map(String, String)'))                       AS attributes,
    ScopeName                                                          AS scope_name
FROM telemetry.otel_metrics_sum;

CREATE TABLE IF NOT EXISTS telemetry.otel_metrics_histogram
(
    ResourceAttributes    Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl     String CODEC(ZSTD(1)),
    ScopeName             String CODEC(ZSTD(1)),
    ScopeVersion          String CODEC(ZSTD(1)),
    ScopeAttributes       Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl        String CODEC(ZSTD(1)),
    ServiceName           LowCardinality(String) CODEC(ZSTD(1)),
    MetricName            String CODEC(ZSTD(1)),
    MetricDescription     String CODEC(ZSTD(1)),
    MetricUnit            String CODEC(ZSTD(1)),
    Attributes            Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix         DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix              DateTime64(9) CODEC(Delta, ZSTD(1)),
    Count                 UInt64 CODEC(Delta, ZSTD(1)),
    Sum                   Float64 CODEC(ZSTD(1)),
    BucketCounts          Array(UInt64) CODEC(ZSTD(1)),
    ExplicitBounds        Array(Float64) CODEC(ZSTD(1)),
    Flags                 UInt32 CODEC(ZSTD(1)),
    Min                   Float64 CODEC(ZSTD(1)),
    Max                   Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    Exemplars Nested
    (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix           DateTime64(9),
        Value              Float64,
        SpanId             String,
        TraceId            String
    ) CODEC(ZSTD(1))
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS telemetry.otel_metrics_histogram_route TO telemetry.metrics AS
SELECT
    toDateTime64(TimeUnix, 9, 'UTC')                                   AS timestamp,
    toDateTime64(StartTimeUnix, 9, 'UTC')                              AS start_timestamp,
    MetricName                                                         AS metric_name,
    'histogram'                                                           AS metric_type,
    Count AS count,
    Sum AS sum,
    Min AS min,
    Max AS max,
    BucketCounts AS bucket_counts,
    ExplicitBounds AS explicit_bounds,
    multiIf(AggregationTemporality = 1, 'delta', AggregationTemporality = 2, 'cumulative', '') AS temporality,
    MetricUnit                                                         AS unit,
    MetricDescription                                                  AS description,
    if(ResourceAttributes['service.name'] = '', 'unknown_service', ResourceAttributes['service.name']) AS service_name,
    multiIf(ResourceAttributes['project.name'] != '', ResourceAttributes['project.name'],
            Attributes['project.name'] != '', Attributes['project.name'],
            service_name)                                              AS project_name,
    multiIf(ResourceAttributes['project.version'] != '', ResourceAttributes['project.version'],
            ResourceAttributes['service.version'])                     AS project_version,
    multiIf(ResourceAttributes['deployment.environment.name'] != '', ResourceAttributes['deployment.environment.name'],
            ResourceAttributes['deployment.environment'] != '', ResourceAttributes['deployment.environment'],
            ResourceAttributes['environment'])                         AS environment,
    mapUpdate(
        mapFilter((k, v) -> k NOT IN ('service.name', 'project.name', 'project.version', 'service.version',
                                      'deployment.environment.name', 'deployment.environment', 'environment'),
                  CAST(ResourceAttributes, 'Map(String, String)')),
        CAST(Attributes, 'Map(String, String)'))                       AS attributes,
    ScopeName                                                          AS scope_name
FROM telemetry.otel_metrics_histogram;

CREATE TABLE IF NOT EXISTS telemetry.otel_metrics_exponential_histogram
(
    ResourceAttributes    Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl     String CODEC(ZSTD(1)),
    ScopeName             String CODEC(ZSTD(1)),
    ScopeVersion          String CODEC(ZSTD(1)),
    ScopeAttributes       Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl        String CODEC(ZSTD(1)),
    ServiceName           LowCardinality(String) CODEC(ZSTD(1)),
    MetricName            String CODEC(ZSTD(1)),
    MetricDescription     String CODEC(ZSTD(1)),
    MetricUnit            String CODEC(ZSTD(1)),
    Attributes            Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix         DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix              DateTime64(9) CODEC(Delta, ZSTD(1)),
    Count                 UInt64 CODEC(Delta, ZSTD(1)),
    Sum                   Float64 CODEC(ZSTD(1)),
    Scale                 Int32 CODEC(ZSTD(1)),
    ZeroCount             UInt64 CODEC(ZSTD(1)),
    PositiveOffset        Int32 CODEC(ZSTD(1)),
    PositiveBucketCounts  Array(UInt64) CODEC(ZSTD(1)),
    NegativeOffset        Int32 CODEC(ZSTD(1)),
    NegativeBucketCounts  Array(UInt64) CODEC(ZSTD(1)),
    Flags                 UInt32 CODEC(ZSTD(1)),
    Min                   Float64 CODEC(ZSTD(1)),
    Max                   Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    Exemplars Nested
    (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix           DateTime64(9),
        Value              Float64,
        SpanId             String,
        TraceId            String
    ) CODEC(ZSTD(1))
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS telemetry.otel_metrics_exponential_histogram_route TO telemetry.metrics AS
SELECT
    toDateTime64(TimeUnix, 9, 'UTC')                                   AS timestamp,
    toDateTime64(StartTimeUnix, 9, 'UTC')                              AS start_timestamp,
    MetricName                                                         AS metric_name,
    'exponential_histogram'                                                           AS metric_type,
    Count AS count,
    Sum AS sum,
    Min AS min,
    Max AS max,
    Scale AS exp_scale,
    ZeroCount AS exp_zero_count,
    PositiveOffset AS exp_positive_offset,
    PositiveBucketCounts AS exp_positive_counts,
    NegativeOffset AS exp_negative_offset,
    NegativeBucketCounts AS exp_negative_counts,
    multiIf(AggregationTemporality = 1, 'delta', AggregationTemporality = 2, 'cumulative', '') AS temporality,
    MetricUnit                                                         AS unit,
    MetricDescription                                                  AS description,
    if(ResourceAttributes['service.name'] = '', 'unknown_service', ResourceAttributes['service.name']) AS service_name,
    multiIf(ResourceAttributes['project.name'] != '', ResourceAttributes['project.name'],
            Attributes['project.name'] != '', Attributes['project.name'],
            service_name)                                              AS project_name,
    multiIf(ResourceAttributes['project.version'] != '', ResourceAttributes['project.version'],
            ResourceAttributes['service.version'])                     AS project_version,
    multiIf(ResourceAttributes['deployment.environment.name'] != '', ResourceAttributes['deployment.environment.name'],
            ResourceAttributes['deployment.environment'] != '', ResourceAttributes['deployment.environment'],
            ResourceAttributes['environment'])                         AS environment,
    mapUpdate(
        mapFilter((k, v) -> k NOT IN ('service.name', 'project.name', 'project.version', 'service.version',
                                      'deployment.environment.name', 'deployment.environment', 'environment'),
                  CAST(ResourceAttributes, 'Map(String, String)')),
        CAST(Attributes, 'Map(String, String)'))                       AS attributes,
    ScopeName                                                          AS scope_name
FROM telemetry.otel_metrics_exponential_histogram;

CREATE TABLE IF NOT EXISTS telemetry.otel_metrics_summary
(
    ResourceAttributes    Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl     String CODEC(ZSTD(1)),
    ScopeName             String CODEC(ZSTD(1)),
    ScopeVersion          String CODEC(ZSTD(1)),
    ScopeAttributes       Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl        String CODEC(ZSTD(1)),
    ServiceName           LowCardinality(String) CODEC(ZSTD(1)),
    MetricName            String CODEC(ZSTD(1)),
    MetricDescription     String CODEC(ZSTD(1)),
    MetricUnit            String CODEC(ZSTD(1)),
    Attributes            Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix         DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix              DateTime64(9) CODEC(Delta, ZSTD(1)),
    Count                 UInt64 CODEC(Delta, ZSTD(1)),
    Sum                   Float64 CODEC(ZSTD(1)),
    ValueAtQuantiles Nested
    (
        Quantile Float64,
        Value    Float64
    ) CODEC(ZSTD(1)),
    Flags                 UInt32 CODEC(ZSTD(1)),
    Exemplars Nested
    (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix           DateTime64(9),
        Value              Float64,
        SpanId             String,
        TraceId            String
    ) CODEC(ZSTD(1))
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS telemetry.otel_metrics_summary_route TO telemetry.metrics AS
SELECT
    toDateTime64(TimeUnix, 9, 'UTC')                                   AS timestamp,
    toDateTime64(StartTimeUnix, 9, 'UTC')                              AS start_timestamp,
    MetricName                                                         AS metric_name,
    'summary'                                                           AS metric_type,
    Count AS count,
    Sum AS sum,
    CAST(arrayZip(ValueAtQuantiles.Quantile, ValueAtQuantiles.Value), 'Array(Tuple(quantile Float64, value Float64))') AS quantiles,
    MetricUnit                                                         AS unit,
    MetricDescription                                                  AS description,
    if(ResourceAttributes['service.name'] = '', 'unknown_service', ResourceAttributes['service.name']) AS service_name,
    multiIf(ResourceAttributes['project.name'] != '', ResourceAttributes['project.name'],
            Attributes['project.name'] != '', Attributes['project.name'],
            service_name)                                              AS project_name,
    multiIf(ResourceAttributes['project.version'] != '', ResourceAttributes['project.version'],
            ResourceAttributes['service.version'])                     AS project_version,
    multiIf(ResourceAttributes['deployment.environment.name'] != '', ResourceAttributes['deployment.environment.name'],
            ResourceAttributes['deployment.environment'] != '', ResourceAttributes['deployment.environment'],
            ResourceAttributes['environment'])                         AS environment,
    mapUpdate(
        mapFilter((k, v) -> k NOT IN ('service.name', 'project.name', 'project.version', 'service.version',
                                      'deployment.environment.name', 'deployment.environment', 'environment'),
                  CAST(ResourceAttributes, 'Map(String, String)')),
        CAST(Attributes, 'Map(String, String)'))                       AS attributes,
    ScopeName                                                          AS scope_name
FROM telemetry.otel_metrics_summary;
