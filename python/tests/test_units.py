"""The pure parts, pinned at their edges: option resolution, backoff, Retry-After, buckets, number formatting."""

import email.utils
import os
import time

import pytest

from automagik_telemetry import AutomagikTelemetry, ConfigError
from automagik_telemetry._mapping import histogram_buckets
from automagik_telemetry._values import js_number
from automagik_telemetry._options import resolve_options
from automagik_telemetry._transport import MAX_DELAY, backoff_delay, parse_retry_after


def write_stack_env(home, text):
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, ".env"), "w") as handle:
        handle.write(text)


def test_defaults_are_the_typescript_sdks(isolated_env):
    o = resolve_options({"project_name": "p"}, isolated_env)
    assert (o.backend, o.endpoint, o.clickhouse_endpoint, o.clickhouse_database, o.clickhouse_table) == (
        "otlp", "http://localhost:4318/v1/traces", "http://localhost:8123", "telemetry", "traces")
    assert (o.clickhouse_username, o.clickhouse_password) == ("telemetry_ingest", None)
    assert (o.batch_size, o.timeout, o.max_retries, o.compression_enabled, o.flush_interval, o.max_queue_size) == (100, 5.0, 3, True, 5.0, 10000)
    assert (o.enabled, o.scrub, o.identify) == (True, "redact", None)
    assert o.otlp_url("logs") == "http://localhost:4318/v1/logs" and o.otlp_url("metrics") == "http://localhost:4318/v1/metrics"


def test_arguments_beat_variables_which_beat_the_stacks_env_file(isolated_env):
    env = dict(isolated_env, AUTOMAGIK_TELEMETRY_PROJECT_NAME="from-env", AUTOMAGIK_TELEMETRY_BACKEND="clickhouse",
               AUTOMAGIK_TELEMETRY_TIMEOUT_MS="250", AUTOMAGIK_TELEMETRY_FLUSH_INTERVAL_MS="1500",
               AUTOMAGIK_TELEMETRY_CLICKHOUSE_BATCH_SIZE="7", AUTOMAGIK_TELEMETRY_COMPRESSION="none",
               OTEL_EXPORTER_OTLP_HEADERS="x-team=a%20b,Authorization=Basic%20eg%3D%3D")
    write_stack_env(env["AUTOMAGIK_TELEMETRY_HOME"], "# stack\nCLICKHOUSE_INGEST_USER=ingest_from_file\nCLICKHOUSE_INGEST_PASSWORD='s3cr#t'\n")
    o = resolve_options({}, env)
    assert (o.project_name, o.backend, o.timeout, o.flush_interval, o.batch_size, o.compression_enabled) == ("from-env", "clickhouse", 0.25, 1.5, 7, False)
    assert (o.clickhouse_username, o.clickhouse_password) == ("ingest_from_file", "s3cr#t")
    assert o.headers == {"x-team": "a b", "Authorization": "Basic eg=="}
    o = resolve_options({"project_name": "arg", "clickhouse_batch_size": 3, "timeout": 2, "clickhouse_password": "given"}, env)
    assert (o.project_name, o.batch_size, o.timeout, o.clickhouse_password, o.clickhouse_username) == ("arg", 3, 2.0, "given", "telemetry_ingest")
    env["AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD"] = "from-var"
    assert resolve_options({}, env).clickhouse_password == "from-var"


@pytest.mark.parametrize("args,env,named", [
    ({}, {}, "project_name is required"),
    ({"backend": "kafka"}, {}, "backend must be 'otlp' or 'clickhouse'"),
    ({"endpoint": "ftp://x"}, {}, "endpoint must be an http(s) URL"),
    ({"clickhouse_database": "x; DROP"}, {}, "clickhouse_database must be a plain identifier"),
    ({"batch_size": 0}, {}, "batch_size must be a whole number >= 1"),
    ({}, {"AUTOMAGIK_TELEMETRY_MAX_RETRIES": "many"}, "max_retries (or AUTOMAGIK_TELEMETRY_MAX_RETRIES) must be a number"),
    ({"scrub": "sometimes"}, {}, "scrub must be one of redact, hash, off"),
])
def test_bad_options_name_the_option(isolated_env, args, env, named):
    args = dict({"project_name": "p"} if "project_name is" not in named else {}, **args)
    with pytest.raises(ConfigError) as raised:
        resolve_options(args, dict(isolated_env, **env))
    assert named in str(raised.value)


def test_a_misconfigured_client_reports_once_and_tracks_nothing(isolated_env):
    errors = []
    client = AutomagikTelemetry(project_name="p", backend="kafka", on_error=errors.append, env=isolated_env)
    assert client.enabled is False and "backend must be" in client.disabled_reason
    client.track_event("e")
    assert client.flush() is True and client.stats()["queued"] == 0
    assert len(errors) == 1


def test_backoff_doubles_with_jitter_is_capped_and_retry_after_wins():
    assert [backoff_delay(n, rand=lambda: 0.0) for n in (1, 2, 3)] == [0.05, 0.1, 0.2]
    assert [backoff_delay(n, rand=lambda: 1.0) for n in (1, 2, 3)] == [0.1, 0.2, 0.4]
    assert backoff_delay(20, rand=lambda: 1.0) == MAX_DELAY
    assert backoff_delay(1, retry_after=2.0) == 2.0
    assert backoff_delay(1, retry_after=3600.0) == MAX_DELAY * 6


def test_retry_after_as_seconds_or_an_http_date():
    assert parse_retry_after("7") == 7.0
    now = time.time()
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now) == pytest.approx(30, abs=1)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_histogram_buckets_are_upper_inclusive():
    assert histogram_buckets(0).index(1) == 0
    assert histogram_buckets(5).index(1) == 1
    assert histogram_buckets(5.01).index(1) == 2
    assert histogram_buckets(10001).index(1) == 15


@pytest.mark.parametrize("value,text", [(3, "3"), (3.0, "3"), (12.5, "12.5"), (-0.1, "-0.1"), (1e21, "1e+21"), (1e-7, "1e-7"), (True, "true"), (float("nan"), "NaN")])
def test_numbers_are_written_as_javascript_writes_them(value, text):
    assert js_number(value) == text


def test_a_stack_on_other_ports_is_found_from_its_variables_or_env_file(isolated_env):
    env = dict(isolated_env, AUTOMAGIK_TELEMETRY_OTLP_PORT="14318")
    write_stack_env(env["AUTOMAGIK_TELEMETRY_HOME"], "AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT=18123\nAUTOMAGIK_TELEMETRY_HOST=0.0.0.0\n")
    o = resolve_options({"project_name": "p"}, env)
    assert (o.endpoint, o.clickhouse_endpoint) == ("http://127.0.0.1:14318/v1/traces", "http://127.0.0.1:18123")
    o = resolve_options({"project_name": "p", "endpoint": "http://collector:4318/v1/traces"}, env)
    assert o.endpoint == "http://collector:4318/v1/traces"
