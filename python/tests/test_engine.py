"""Events and errors through both backends into the real embedded engine, read back as admin field by field."""

import logging
import time
import uuid
from datetime import datetime, timezone

import pytest

from automagik_telemetry import AutomagikTelemetry
from conftest import load_vectors
from vectors import track

TRACE_CASES = [c for c in load_vectors() if c["call"]["kind"] in ("event", "error")]

# The vectors' fixed date is older than the table's TTL; the engine tests move it to a recent millisecond.
RECENT_MS = (int(time.time()) - 3600) * 1000 + 678
RECENT_ISO = datetime.fromtimestamp(RECENT_MS / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.678Z")
RECENT_TEXT = datetime.fromtimestamp(RECENT_MS / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.678")


def rows_of(engine, run_id, project=None):
    where = "attributes['run'] = '%s'" % run_id
    return engine.query(
        "SELECT trace_id, span_id, parent_span_id, toString(timestamp) AS timestamp, service_name, span_name, span_kind, status_code, "
        "status_message, duration_ms, project_name, project_version, environment, attributes, "
        "arrayMap(x -> toString(x), events.timestamp) AS `events.timestamp`, events.name AS `events.name`, events.attributes AS `events.attributes` "
        "FROM telemetry.traces WHERE %s ORDER BY span_name" % where
    )


def expected_row(case, run_id, actual):
    row = dict(case["rows"][0])
    row["attributes"] = dict(row["attributes"], run=run_id)
    row["timestamp"] = RECENT_TEXT
    if row["span_id"] == "<span_id>":
        assert len(actual["span_id"]) == 16 and int(actual["span_id"], 16) != 0
        row["span_id"] = actual["span_id"]
    if row["trace_id"] == "<trace_id>":
        assert len(actual["trace_id"]) == 32
        row["trace_id"] = actual["trace_id"]
    if row["attributes"].get("exception.stacktrace") == "<any>":
        row["attributes"]["exception.stacktrace"] = actual["attributes"]["exception.stacktrace"]
    # Span events (track_error's "exception"): at the span's start, with the same stack trace as the attributes.
    for key in ("events.timestamp", "events.name", "events.attributes"):
        row.setdefault(key, [])
    if row["events.timestamp"]:
        assert all(t.startswith(RECENT_TEXT) for t in actual["events.timestamp"]), actual["events.timestamp"]
        row["events.timestamp"] = actual["events.timestamp"]
    for event in row["events.attributes"]:
        if event.get("exception.stacktrace") == "<any>":
            event["exception.stacktrace"] = actual["attributes"]["exception.stacktrace"]
    return row


@pytest.mark.parametrize("backend", ["clickhouse", "otlp"])
@pytest.mark.parametrize("case", TRACE_CASES, ids=[c["name"] for c in TRACE_CASES])
def test_each_vector_lands_in_the_traces_table_as_the_vector_says(engine, backend, case):
    run_id = uuid.uuid4().hex
    resource = case["resource"]
    client = AutomagikTelemetry(project_name=resource["project_name"], version=resource.get("version"), environment=resource.get("environment"),
                                backend=backend, env=engine.sdk_env())
    call = dict(case["call"], attributes=dict(case["call"].get("attributes") or {}, run=run_id), timestamp=RECENT_ISO)
    track(client, call)
    assert client.flush(10) is True
    assert client.stats()["sent"] == 1
    client.shutdown()
    rows = rows_of(engine, run_id)
    assert len(rows) == 1
    assert rows[0] == expected_row(case, run_id, rows[0])


def test_the_seed_example_with_debug_logging(engine, caplog):
    env = engine.sdk_env()
    client = AutomagikTelemetry(
        project_name="seed-app",
        backend="clickhouse",
        clickhouse_endpoint=engine.clickhouse,
        clickhouse_batch_size=100,
        env={k: v for k, v in env.items() if k != "AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT"},
    )
    run_id = uuid.uuid4().hex
    with caplog.at_level(logging.DEBUG, logger="automagik_telemetry"):
        for _ in range(3):
            client.track_event("my.event", {"run": run_id})
        client.flush()
    assert any(r.getMessage().startswith("Flushed 3 rows to ClickHouse in ") and r.getMessage().endswith(" ms") for r in caplog.records)
    assert [r["span_name"] for r in rows_of(engine, run_id)] == ["my.event"] * 3
    client.shutdown()


@pytest.mark.parametrize("backend", ["clickhouse", "otlp"])
def test_with_no_credential_given_the_sdk_finds_the_stacks_ingest_credential(engine, backend):
    # Only the home and the endpoints: the password comes from <home>/.env, as `automagik-telemetry send` finds it.
    env = {k: v for k, v in engine.sdk_env().items() if k not in ("AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME", "AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD", "OTEL_EXPORTER_OTLP_HEADERS")}
    env["AUTOMAGIK_TELEMETRY_HOME"] = engine.home
    client = AutomagikTelemetry(project_name="found-it", backend=backend, env=env)
    assert client.options.clickhouse_username == "telemetry_ingest"
    assert client.options.clickhouse_password == engine.ingest["AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD"]
    run_id = uuid.uuid4().hex
    client.track_event("found.credential", {"run": run_id})
    assert client.flush(10) is True
    client.shutdown()
    assert [r["project_name"] for r in rows_of(engine, run_id)] == ["found-it"]


@pytest.mark.parametrize("backend", ["clickhouse", "otlp"])
def test_a_wrong_password_is_a_counted_failure_not_an_exception(engine, backend):
    errors = []
    env = {k: v for k, v in engine.sdk_env().items() if k != "OTEL_EXPORTER_OTLP_HEADERS"}
    client = AutomagikTelemetry(project_name="wrong", backend=backend, clickhouse_password="not-it", on_error=errors.append, env=env)
    client.track_event("never.stored")
    client.flush(10)
    stats = client.stats()
    assert stats["sent"] == 0 and stats["failed"] == 1 and stats["retried"] == 0
    assert any('authentication failed for user "telemetry_ingest"' in str(e) for e in errors)
    client.shutdown()


def test_span_context_manager_and_decorator(engine):
    client = AutomagikTelemetry(project_name="spans", backend="clickhouse", env=engine.sdk_env())
    run_id = uuid.uuid4().hex

    @client.span("decorated.call", {"run": run_id})
    def work(x):
        return x * 2

    assert work(21) == 42
    with pytest.raises(KeyError):
        with client.span("failing.block", {"run": run_id}):
            raise KeyError("missing")
    client.flush(10)
    client.shutdown()
    rows = {r["span_name"]: r for r in rows_of(engine, run_id)}
    assert rows["decorated.call"]["status_code"] == "OK"
    assert rows["failing.block"]["status_code"] == "ERROR"
    assert rows["failing.block"]["status_message"] == "'missing'"
    assert rows["failing.block"]["attributes"]["exception.message"] == "'missing'"


def test_the_readme_example_runs_as_written_and_finds_the_stacks_credential(engine):
    import os
    import re
    import subprocess
    import sys

    from conftest import ROOT

    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    section = readme[readme.index("## Python SDK"):]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert 'clickhouse_batch_size=100' in snippet and 'client.track_event("my.event")' in snippet
    # The one change: the example's localhost:8123 is this test's engine. No credential is given: it comes from the home.
    code = "import sys; sys.path.insert(0, %r)\n" % os.path.join(ROOT, "python", "src") + snippet.replace("http://localhost:8123", engine.clickhouse)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOMAGIK_TELEMETRY_") and k != "DO_NOT_TRACK"}
    env["AUTOMAGIK_TELEMETRY_HOME"] = engine.home
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^DEBUG:automagik_telemetry:Flushed 1 rows to ClickHouse in \d+ ms$", done.stderr, re.M), done.stderr
    assert engine.query("SELECT count() AS n FROM telemetry.traces WHERE project_name = 'my-app' AND span_name = 'my.event'")[0]["n"] >= 1


def test_an_app_given_only_the_stacks_home_and_ports_reaches_it(engine):
    # The stack was started on non-default ports (by variable): the same variables and the home are all the app needs.
    env = {k: v for k, v in engine.env.items() if k.startswith("AUTOMAGIK_TELEMETRY_") and k.endswith(("_HOME", "_PORT"))}
    env["HOME"] = engine.home
    run_id = uuid.uuid4().hex
    for backend in ("otlp", "clickhouse"):
        client = AutomagikTelemetry(project_name="by-home", backend=backend, env=env)
        client.track_event("found.stack", {"run": run_id})
        assert client.flush(10) is True
        client.shutdown()
    assert len(rows_of(engine, run_id)) == 2
