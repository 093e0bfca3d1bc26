-- automagik-telemetry schema, version 4: a bloom-filter skip index on traces.trace_id, and a minmax index on
-- logs.inserted_at for tailing (version 3 gave traces one).
-- The table is ordered by (project_name, timestamp, span_name), so "every span of one trace" (/api/traces/<id>, the
-- trace page) read every part of the time range; with the index ClickHouse skips each granule whose filter says the
-- id is not there. Applied once; existing parts get the index by a background mutation, new parts as they are written.
-- `telemetry` is replaced by the configured database name when the CLI applies this file.
-- schema-version: 4

ALTER TABLE telemetry.traces ADD INDEX IF NOT EXISTS trace_id_index trace_id TYPE bloom_filter(0.01) GRANULARITY 1;

ALTER TABLE telemetry.traces MATERIALIZE INDEX trace_id_index;

-- Schema 2 creates logs with the same index; a logs table made before it had one gets it here.
ALTER TABLE telemetry.logs ADD INDEX IF NOT EXISTS trace_id_index trace_id TYPE bloom_filter(0.01) GRANULARITY 1;

-- Tailing (query-traces/query-logs --follow, the dashboard's live tail) asks every second for the rows that arrived
-- after a moment; a minmax index on the arrival time lets that read skip every granule written before it instead of
-- every part of the table. (Version 3 added it to traces and metrics.)
ALTER TABLE telemetry.logs ADD INDEX IF NOT EXISTS inserted_at_index inserted_at TYPE minmax GRANULARITY 1;

ALTER TABLE telemetry.logs MATERIALIZE INDEX inserted_at_index;
