-- automagik-telemetry: the three ClickHouse users of the Docker stack, their settings profiles and grants.
-- `start` renders this file with the names and passwords from <home>/.env and runs it as the admin user
-- (CLICKHOUSE_USER, created by the image with access management), so a changed password in .env applies on the next start.
-- {{NAME}} placeholders are replaced by the CLI: identifiers as written, {{..._PASSWORD}} as quoted SQL strings.

-- ingest: what apps, SDKs and the collector hold. Inserts into the signal tables, nothing else; small inserts are
-- batched by the server (async_insert), and a client's acknowledgement still means stored (wait_for_async_insert).
CREATE SETTINGS PROFILE IF NOT EXISTS automagik_ingest_profile SETTINGS async_insert = 1, wait_for_async_insert = 1;
CREATE USER IF NOT EXISTS {{INGEST_USER}} IDENTIFIED WITH sha256_password BY {{INGEST_PASSWORD}} DEFAULT DATABASE {{DATABASE}} SETTINGS PROFILE 'automagik_ingest_profile';
ALTER USER {{INGEST_USER}} IDENTIFIED WITH sha256_password BY {{INGEST_PASSWORD}} DEFAULT DATABASE {{DATABASE}} SETTINGS PROFILE 'automagik_ingest_profile';
GRANT INSERT ON {{DATABASE}}.traces TO {{INGEST_USER}};
GRANT INSERT ON {{DATABASE}}.logs TO {{INGEST_USER}};
GRANT INSERT ON {{DATABASE}}.metrics TO {{INGEST_USER}};
-- The collector's exporter inserts into the route tables (templates/docker/otel-route.sql creates them: the exporter's
-- schema creation is off, so no CREATE right); their views write the rows into the signal tables above.
-- A store from before held CREATE TABLE on otel_traces (the exporter made its table): taken back.
REVOKE CREATE TABLE ON {{DATABASE}}.otel_traces FROM {{INGEST_USER}};
GRANT INSERT ON {{DATABASE}}.otel_traces TO {{INGEST_USER}};
GRANT INSERT ON {{DATABASE}}.otel_logs TO {{INGEST_USER}};
GRANT INSERT ON {{DATABASE}}.otel_metrics_gauge TO {{INGEST_USER}};
GRANT INSERT ON {{DATABASE}}.otel_metrics_sum TO {{INGEST_USER}};
GRANT INSERT ON {{DATABASE}}.otel_metrics_histogram TO {{INGEST_USER}};
GRANT INSERT ON {{DATABASE}}.otel_metrics_exponential_histogram TO {{INGEST_USER}};
GRANT INSERT ON {{DATABASE}}.otel_metrics_summary TO {{INGEST_USER}};
-- Materialized views may run with the inserting user's rights: their targets take its inserts too.
GRANT INSERT ON {{DATABASE}}.metrics_hourly_state TO {{INGEST_USER}};
GRANT INSERT ON {{DATABASE}}.metric_points_hourly_state TO {{INGEST_USER}};

-- reader: dashboards and Grafana. SELECT in the telemetry database; readonly = 2 refuses every write but lets clients
-- such as Grafana's ClickHouse plugin set query settings.
CREATE SETTINGS PROFILE IF NOT EXISTS automagik_reader_profile SETTINGS readonly = 2;
CREATE USER IF NOT EXISTS {{READER_USER}} IDENTIFIED WITH sha256_password BY {{READER_PASSWORD}} DEFAULT DATABASE {{DATABASE}} SETTINGS PROFILE 'automagik_reader_profile';
ALTER USER {{READER_USER}} IDENTIFIED WITH sha256_password BY {{READER_PASSWORD}} DEFAULT DATABASE {{DATABASE}} SETTINGS PROFILE 'automagik_reader_profile';
GRANT SELECT ON {{DATABASE}}.* TO {{READER_USER}};
