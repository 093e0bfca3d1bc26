"""track_metric and track_log into the real engine: OTLP /v1/logs and /v1/metrics, and inserts into telemetry.logs and
telemetry.metrics, read back as admin. These need the engine's logs and metrics signals (the signals work); without
them the tests fail under CI=true and skip loudly elsewhere."""

import time
import uuid
from datetime import datetime, timezone

import pytest

from conftest import load_vectors, need
from vectors import client_for, track

SIGNAL_CASES = [c for c in load_vectors() if c["call"]["kind"] in ("metric", "log")]
RECENT_S = int(time.time()) - 3600
RECENT_ISO = datetime.fromtimestamp(RECENT_S, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.678Z")
RECENT_TEXT9 = datetime.fromtimestamp(RECENT_S, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.678000000")


@pytest.fixture(scope="module")
def signals_engine(engine):
    tables = {r["name"] for r in engine.query("SELECT name FROM system.tables WHERE database = 'telemetry'")}
    need({"logs", "metrics"} <= tables, "the engine has no telemetry.logs / telemetry.metrics tables yet (they come with the signals work)")
    return engine


def read_back(engine, table, run_id, columns):
    selected = ", ".join("toString(%s) AS %s" % (c, c) if c in ("timestamp", "observed_timestamp") else c for c in columns)
    return engine.query("SELECT %s FROM telemetry.%s WHERE attributes['run'] = '%s'" % (selected, table, run_id))


def normalise(row):
    out = {}
    for key, value in row.items():
        if key in ("timestamp",):
            value = str(value)[:23]  # whatever the column's precision, the milliseconds match
        if key == "observed_timestamp":
            continue
        if isinstance(value, (bool,)):
            value = int(value)
        if isinstance(value, str) and key in ("count", "value", "sum", "min", "max"):
            value = float(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key in ("value", "sum", "min", "max", "count"):
            value = float(value)
        if key == "bucket_counts":
            value = [int(v) for v in value]
        if key == "explicit_bounds":
            value = [float(v) for v in value]
        out[key] = value
    return out


@pytest.mark.parametrize("backend", ["otlp", "clickhouse"])
@pytest.mark.parametrize("case", SIGNAL_CASES, ids=[c["name"] for c in SIGNAL_CASES])
def test_signal_lands_in_its_table_as_the_vector_says(signals_engine, backend, case):
    engine = signals_engine
    run_id = uuid.uuid4().hex
    client = client_for(case["resource"], engine.sdk_env(), backend=backend)
    call = dict(case["call"], timestamp=RECENT_ISO, attributes=dict(case["call"].get("attributes") or {}, run=run_id))
    track(client, call)
    assert client.flush(10) is True
    stats = client.stats()
    client.shutdown()
    assert (stats["sent"], stats["failed"]) == (1, 0)
    table = "metrics" if case["call"]["kind"] == "metric" else "logs"
    expected = dict(case["rows"][0], timestamp=RECENT_TEXT9)
    expected["attributes"] = dict(expected["attributes"], run=run_id)
    rows = read_back(engine, table, run_id, list(expected.keys()))
    assert len(rows) == 1
    assert normalise(rows[0]) == normalise(expected)
