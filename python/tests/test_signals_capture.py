"""track_metric and track_log on the wire: the exact OTLP/JSON bodies and ClickHouse rows, recorded by a real server."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from automagik_telemetry import AutomagikTelemetry
from conftest import load_vectors
from vectors import client_for, placeholders, track

SIGNAL_CASES = [c for c in load_vectors() if c["call"]["kind"] in ("metric", "log")]


@pytest.mark.parametrize("case", SIGNAL_CASES, ids=[c["name"] for c in SIGNAL_CASES])
def test_otlp_body_sent_to_the_signals_path(capture, isolated_env, case):
    client = client_for(case["resource"], isolated_env, endpoint=capture.url + "/v1/traces", clickhouse_password="pw", clickhouse_username="ingest")
    track(client, case["call"])
    assert client.flush(5) is True
    client.shutdown()
    [request] = capture.requests
    assert request["path"] == ("/v1/metrics" if case["call"]["kind"] == "metric" else "/v1/logs")
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["Content-Encoding"] == "gzip"
    assert request["headers"]["Authorization"] == "Basic aW5nZXN0OnB3"
    assert placeholders(json.loads(request["body"]), case["call"], set()) == case["otlp"]


@pytest.mark.parametrize("case", SIGNAL_CASES, ids=[c["name"] for c in SIGNAL_CASES])
def test_clickhouse_rows_inserted_into_the_signals_table(capture, isolated_env, case):
    client = client_for(case["resource"], isolated_env, backend="clickhouse", clickhouse_endpoint=capture.url, compression_enabled=False)
    track(client, case["call"])
    assert client.flush(5) is True
    client.shutdown()
    [request] = capture.requests
    query = parse_qs(urlsplit(request["path"]).query)
    table = "metrics" if case["call"]["kind"] == "metric" else "logs"
    columns = ", ".join(case["rows"][0].keys())
    assert query["query"] == ["INSERT INTO telemetry.%s (%s) FORMAT JSONEachRow" % (table, columns)]
    assert len(query["insert_deduplication_token"][0]) == 36
    assert "Content-Encoding" not in request["headers"]
    rows = [json.loads(line) for line in request["body"].decode().splitlines()]
    assert placeholders(rows, case["call"], set()) == case["rows"]


def test_a_counter_sends_its_running_total_since_its_start(capture, isolated_env):
    client = AutomagikTelemetry(project_name="shop", endpoint=capture.url + "/v1/traces", env=isolated_env)
    for step, attrs in [(2, {"route": "/a"}), (3, {"route": "/a"}), (10, {"route": "/b"}), (1, {"route": "/a"})]:
        client.track_metric("hits", step, "counter", attributes=attrs)
    client.track_metric("hits", -1, "counter")  # a counter never goes down: reported and skipped
    client.shutdown(5)
    points = [m["sum"]["dataPoints"][0] for body in capture.json_bodies() for rm in body["resourceMetrics"] for sm in rm["scopeMetrics"] for m in sm["metrics"]]
    assert [(p["attributes"][0]["value"]["stringValue"], p["asDouble"]) for p in points] == [("/a", 2.0), ("/a", 5.0), ("/b", 10.0), ("/a", 6.0)]
    starts = {p["attributes"][0]["value"]["stringValue"]: set() for p in points}
    for p in points:
        starts[p["attributes"][0]["value"]["stringValue"]].add(p["startTimeUnixNano"])
    assert all(len(s) == 1 for s in starts.values()), "a series keeps its start time"


def test_mixed_signals_go_out_one_signal_a_request(capture, isolated_env):
    client = AutomagikTelemetry(project_name="mixed", endpoint=capture.url + "/v1/traces", batch_size=10, env=isolated_env)
    client.track_event("a")
    client.track_log("b")
    client.track_event("c")
    client.track_metric("d", 1)
    client.shutdown(5)
    assert [r["path"] for r in capture.requests] == ["/v1/traces", "/v1/logs", "/v1/traces", "/v1/metrics"]


@pytest.mark.parametrize("call", [
    lambda c: c.track_metric("m", float("nan")),
    lambda c: c.track_metric("m", 1, "summary"),
    lambda c: c.track_metric("", 1),
    lambda c: c.track_log("x", "loud"),
    lambda c: c.track_log("x", trace_id="xyz"),
    lambda c: c.track_event("e", duration_ms=-1),
    lambda c: c.track_event("e", status="maybe"),
    lambda c: c.track_event("e", timestamp="yesterday"),
    lambda c: c.track_error("not an exception"),
    lambda c: c.track_event("e", attributes=[1, 2]),
    lambda c: c.track_event(None),
    lambda c: c.track_log("x", span_id="0" * 15),
])
def test_bad_arguments_are_reported_never_raised(capture, isolated_env, call):
    """Each bad call is reported once and skipped, or (a string as the error) tracked: never an exception."""
    errors = []
    client = AutomagikTelemetry(project_name="strict", endpoint=capture.url + "/v1/traces", on_error=errors.append, env=isolated_env)
    call(client)
    client.shutdown(5)
    # A plain string passed as an error is still tracked (as the TS SDK does); every other bad call is skipped.
    assert len(errors) + len(capture.requests) == 1


def test_odd_attribute_values_are_flattened_not_fatal(capture, isolated_env):
    loop = {}
    loop["self"] = loop
    deep = []
    for _ in range(5000):
        deep = [deep]
    client = AutomagikTelemetry(project_name="odd", endpoint=capture.url + "/v1/traces", env=isolated_env)
    client.track_event("odd", {"loop": loop, "deep": deep, "obj": object(), 7: "int key", "bytes": b"\x00\xff"})
    client.shutdown(5)
    [body] = capture.json_bodies()
    attrs = {a["key"]: a["value"]["stringValue"] for a in body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]}
    assert set(attrs) == {"loop", "deep", "obj", "7", "bytes"}
    assert attrs["7"] == "int key"


def test_an_otlp_partial_success_counts_the_rejected_as_failed(capture, isolated_env):
    capture.reply = json.dumps({"partialSuccess": {"rejectedLogRecords": "2", "errorMessage": "body too long"}}).encode()
    errors = []
    client = AutomagikTelemetry(project_name="partial", endpoint=capture.url + "/v1/traces", on_error=errors.append, env=isolated_env)
    for i in range(3):
        client.track_log("line %d" % i)
    client.flush(5)
    stats = client.stats()
    client.shutdown()
    assert (stats["sent"], stats["failed"]) == (1, 2)
    assert any("2 record(s) rejected" in str(e) and "body too long" in str(e) for e in errors)
