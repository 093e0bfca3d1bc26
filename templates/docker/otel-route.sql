-- The Docker stack's route from the collector's `otel_traces` table into `traces`.
-- `otel_traces` is created here with the columns the contrib ClickHouse exporter writes (create_schema uses
-- IF NOT EXISTS, so this definition is the one in use), and a materialized view maps each span exactly as the
-- embedded receiver does (src/transform/otlp-to-rows.ts).
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
ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))
TTL toDateTime(Timestamp) + INTERVAL 7 DAY
SETTINGS ttl_only_drop_parts = 1;

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
