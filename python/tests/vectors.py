"""Runs a shared test vector's call through the Python SDK's mapping and puts the placeholders back."""

import copy

from automagik_telemetry import AutomagikTelemetry
from automagik_telemetry import _mapping


def client_for(resource, env, **options):
    return AutomagikTelemetry(
        project_name=resource["project_name"], version=resource.get("version"), environment=resource.get("environment"),
        flush_interval=3600, env=env, **options,
    )


def track(client, call):
    """The vector's call, made on the client."""
    kind = call["kind"]
    common = {"timestamp": call.get("timestamp")}
    if kind == "event":
        client.track_event(call["name"], call.get("attributes"), call.get("duration_ms"), call.get("status", "ok"),
                           status_message=call.get("status_message"), trace_id=call.get("trace_id"), project_name=call.get("project_name"), **common)
    elif kind == "error":
        error_class = type(call["type"], (Exception,), {})
        client.track_error(error_class(call["message"]), call.get("attributes"), trace_id=call.get("trace_id"), **common)
    elif kind == "metric":
        client.track_metric(call["name"], call["value"], call.get("type", "gauge"), call.get("unit"), call.get("attributes"), **common)
    else:
        client.track_log(call["message"], call.get("severity", "info"), call.get("attributes"), call.get("trace_id"), call.get("span_id"), **common)


def queued(client):
    return list(client._processor._queue)


def expected_signal(call):
    return {"event": "traces", "error": "traces", "metric": "metrics", "log": "logs"}[call["kind"]]


def placeholders(value, call, span_ids):
    """The SDK's output with the vector's placeholders put in place of random ids, versions and observed times."""
    out = copy.deepcopy(value)

    def walk(node):
        if isinstance(node, dict):
            for key, item in list(node.items()):
                if key in ("spanId", "span_id") and item in span_ids:
                    node[key] = "<span_id>"
                elif key in ("traceId", "trace_id") and item and not call.get("trace_id"):
                    node[key] = "<trace_id>"
                elif key == "version" and item == _version():
                    node[key] = "<sdk_version>"
                elif key == "observedTimeUnixNano":
                    node[key] = "<observed_ns>"
                elif key == "observed_timestamp":
                    node[key] = "<observed_ts>"
                elif key == "exception.stacktrace":
                    node[key] = "<any>"
                elif key == "key" and item == "exception.stacktrace":
                    node["value"] = {"stringValue": "<any>"}
                else:
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(out)
    return out


def _version():
    from automagik_telemetry import __version__
    return __version__


def python_output(case, env):
    """(otlp, rows) the Python SDK makes of the case's call."""
    client = client_for(case["resource"], env)
    try:
        track(client, case["call"])
        records = queued(client)
        signal = expected_signal(case["call"])
        request_of, rows_of, _ = _mapping.SIGNALS[signal]
        span_ids = {getattr(r, "span_id", None) for r in records if signal == "traces"}
        otlp = request_of(records, client._resource, _version())
        rows = rows_of(records, client._resource)
        return placeholders(otlp, case["call"], span_ids), placeholders(rows, case["call"], span_ids)
    finally:
        client._processor._queue.clear()  # mapped, not sent
        client.shutdown(0)
