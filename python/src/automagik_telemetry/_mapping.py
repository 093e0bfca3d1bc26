"""Owns the one mapping of every signal: tracked calls -> OTLP/JSON request bodies and -> ClickHouse rows.

Traces mirror the TypeScript SDK and the stack's OTLP->row transform exactly (test-vectors/sdk-vectors.json pins both).
Logs and metrics follow the OTLP specification's JSON mapping (lowerCamelCase, hex ids, 64-bit integers as strings)
and the columns of telemetry.logs and telemetry.metrics: they live here, and only here, so aligning them with the
receiver is a change to this one file.
"""

from typing import TYPE_CHECKING, Dict, List, Mapping, Tuple

from ._values import format_ms, format_ns, round_half_up

if TYPE_CHECKING:  # the records are built in _records, which reads this module's tables
    from ._records import LogRecord, MetricRecord, SpanRecord

SCOPE_NAME = "automagik-telemetry"
SPAN_KIND_INTERNAL = 1
STATUS_CODE_ERROR = 2
UINT32_MAX = 4294967295

# OTLP SeverityNumber for each severity the SDK accepts (SEVERITY_NUMBER_TRACE = 1 ... FATAL = 21).
SEVERITIES: Dict[str, Tuple[str, int]] = {
    "trace": ("TRACE", 1),
    "debug": ("DEBUG", 5),
    "info": ("INFO", 9),
    "warn": ("WARN", 13),
    "warning": ("WARN", 13),
    "error": ("ERROR", 17),
    "fatal": ("FATAL", 21),
    "critical": ("FATAL", 21),
}

METRIC_TYPES = ("gauge", "counter", "histogram")
# OpenTelemetry's default explicit bucket boundaries for histograms.
DEFAULT_BOUNDS = (0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0, 10000.0)
TEMPORALITY_DELTA = 1
TEMPORALITY_CUMULATIVE = 2

# Resource attributes that become columns (first non-empty wins); the rest are kept in `attributes`.
RESOURCE_COLUMNS = (
    ("service_name", ("service.name",)),
    ("project_name", ("project.name",)),
    ("project_version", ("project.version", "service.version")),
    ("environment", ("deployment.environment.name", "deployment.environment", "environment")),
)
_CONSUMED = {key for _, keys in RESOURCE_COLUMNS for key in keys}


# ---------------------------------------------------------------------------------------------------------------
# Resources: one per project; the same attributes on every signal.

def resource_attributes(project: str, resource: Mapping[str, str]) -> Dict[str, str]:
    """`resource` holds project_name, service_name, version, environment and optional extra attributes."""
    out = {
        "service.name": resource["service_name"] if project == resource["project_name"] else project,
        "project.name": project,
    }
    if resource.get("version"):
        out["project.version"] = resource["version"]
    if resource.get("environment"):
        out["deployment.environment.name"] = resource["environment"]
    for key, value in resource.get("extra", {}).items():  # type: ignore[union-attr]
        out[key] = value
    return out


def resource_columns(attributes: Mapping[str, str]) -> Tuple[Dict[str, str], Dict[str, str]]:
    columns: Dict[str, str] = {}
    for column, keys in RESOURCE_COLUMNS:
        columns[column] = next((attributes[k] for k in keys if attributes.get(k)), "")
    columns["service_name"] = columns["service_name"] or "unknown_service"
    rest = {k: v for k, v in attributes.items() if k not in _CONSUMED}
    return columns, rest


def _kv(attributes: Mapping[str, str]) -> List[dict]:
    return [{"key": key, "value": {"stringValue": value}} for key, value in attributes.items()]


def _group(items: list, resource: Mapping[str, str]) -> List[Tuple[Dict[str, str], list]]:
    groups: Dict[str, list] = {}
    for item in items:
        groups.setdefault(item.project or resource["project_name"], []).append(item)
    return [(resource_attributes(project, resource), members) for project, members in groups.items()]


def _scope(version: str) -> dict:
    return {"name": SCOPE_NAME, "version": version}


def histogram_buckets(value: float, bounds=DEFAULT_BOUNDS) -> List[int]:
    """Counts per bucket for one observation: bucket i holds (bounds[i-1], bounds[i]], the last one (bounds[-1], +inf)."""
    counts = [0] * (len(bounds) + 1)
    index = next((i for i, bound in enumerate(bounds) if value <= bound), len(bounds))
    counts[index] = 1
    return counts


# ---------------------------------------------------------------------------------------------------------------
# Traces

def span_json(span: "SpanRecord") -> dict:
    status: dict = {"code": STATUS_CODE_ERROR if span.error else 0}
    if span.status_message:
        status["message"] = span.status_message
    out = {
        "traceId": span.trace_id,
        "spanId": span.span_id,
        "name": span.name,
        "kind": SPAN_KIND_INTERNAL,
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns),
        "attributes": _kv(span.attributes),
        "status": status,
    }
    if span.exception:
        out["events"] = [{"timeUnixNano": str(span.start_ns), "name": "exception", "attributes": _kv(span.exception)}]
    return out


def traces_request(spans: list, resource: Mapping[str, str], sdk_version: str) -> dict:
    return {
        "resourceSpans": [
            {"resource": {"attributes": _kv(attrs)}, "scopeSpans": [{"scope": _scope(sdk_version), "spans": [span_json(s) for s in members]}]}
            for attrs, members in _group(spans, resource)
        ]
    }


TRACE_COLUMNS = (
    "trace_id", "span_id", "parent_span_id", "timestamp", "service_name", "span_name", "span_kind", "status_code",
    "status_message", "duration_ms", "project_name", "project_version", "environment", "attributes",
)


def trace_rows(spans: list, resource: Mapping[str, str]) -> List[dict]:
    rows = []
    for attrs, members in _group(spans, resource):
        columns, rest = resource_columns(attrs)
        for span in members:
            duration_ms = (span.end_ns - span.start_ns) / 1e6 if span.end_ns else 0.0
            rows.append({
                "trace_id": span.trace_id,
                "span_id": span.span_id,
                "parent_span_id": "",
                "timestamp": format_ms(span.start_ns // 1_000_000),
                "service_name": columns["service_name"],
                "span_name": span.name,
                "span_kind": "INTERNAL",
                "status_code": "ERROR" if span.error else "OK",
                "status_message": span.status_message,
                "duration_ms": min(round_half_up(duration_ms), UINT32_MAX) if duration_ms >= 0 else 0,
                "project_name": columns["project_name"] or span.attributes.get("project.name") or columns["service_name"],
                "project_version": columns["project_version"],
                "environment": columns["environment"],
                "attributes": dict(rest, **span.attributes) if rest else span.attributes,
            })
            if span.exception:
                rows[-1].update({"events.timestamp": [format_ns(span.start_ns)], "events.name": ["exception"], "events.attributes": [span.exception]})
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Logs

def log_json(record: "LogRecord") -> dict:
    out = {
        "timeUnixNano": str(record.time_ns),
        "observedTimeUnixNano": str(record.observed_ns),
        "severityNumber": record.severity_number,
        "severityText": record.severity_text,
        "body": {"stringValue": record.body},
        "attributes": _kv(record.attributes),
    }
    if record.trace_id:
        out["traceId"] = record.trace_id
    if record.span_id:
        out["spanId"] = record.span_id
    return out


def logs_request(records: list, resource: Mapping[str, str], sdk_version: str) -> dict:
    return {
        "resourceLogs": [
            {"resource": {"attributes": _kv(attrs)}, "scopeLogs": [{"scope": _scope(sdk_version), "logRecords": [log_json(r) for r in members]}]}
            for attrs, members in _group(records, resource)
        ]
    }


LOG_COLUMNS = (
    "timestamp", "observed_timestamp", "trace_id", "span_id", "severity_text", "severity_number", "body",
    "service_name", "project_name", "project_version", "environment", "attributes", "scope_name",
)


def log_rows(records: list, resource: Mapping[str, str]) -> List[dict]:
    rows = []
    for attrs, members in _group(records, resource):
        columns, rest = resource_columns(attrs)
        for record in members:
            rows.append({
                "timestamp": format_ns(record.time_ns),
                "observed_timestamp": format_ns(record.observed_ns),
                "trace_id": record.trace_id or "",
                "span_id": record.span_id or "",
                "severity_text": record.severity_text,
                "severity_number": record.severity_number,
                "body": record.body,
                "service_name": columns["service_name"],
                "project_name": columns["project_name"] or columns["service_name"],
                "project_version": columns["project_version"],
                "environment": columns["environment"],
                "attributes": dict(rest, **record.attributes) if rest else record.attributes,
                "scope_name": SCOPE_NAME,
            })
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Metrics

def metric_json(record: "MetricRecord") -> dict:
    point: dict = {"attributes": _kv(record.attributes), "timeUnixNano": str(record.time_ns)}
    out: dict = {"name": record.name}
    if record.description:
        out["description"] = record.description
    if record.unit:
        out["unit"] = record.unit
    if record.type == "gauge":
        point["asDouble"] = float(record.value)
        out["gauge"] = {"dataPoints": [point]}
    elif record.type == "counter":
        point["startTimeUnixNano"] = str(record.start_ns)
        point["asDouble"] = float(record.value)
        out["sum"] = {"dataPoints": [point], "aggregationTemporality": TEMPORALITY_CUMULATIVE, "isMonotonic": True}
    else:
        value = float(record.value)
        point["startTimeUnixNano"] = str(record.start_ns)
        point["count"] = "1"
        point["sum"] = value
        point["min"] = value
        point["max"] = value
        point["bucketCounts"] = [str(c) for c in histogram_buckets(value)]
        point["explicitBounds"] = list(DEFAULT_BOUNDS)
        out["histogram"] = {"dataPoints": [point], "aggregationTemporality": TEMPORALITY_DELTA}
    return out


def metrics_request(records: list, resource: Mapping[str, str], sdk_version: str) -> dict:
    return {
        "resourceMetrics": [
            {"resource": {"attributes": _kv(attrs)}, "scopeMetrics": [{"scope": _scope(sdk_version), "metrics": [metric_json(r) for r in members]}]}
            for attrs, members in _group(records, resource)
        ]
    }


METRIC_COLUMNS = (
    "timestamp", "metric_name", "metric_type", "value", "count", "sum", "min", "max", "bucket_counts",
    "explicit_bounds", "is_monotonic", "temporality", "unit", "description", "service_name", "project_name",
    "project_version", "environment", "attributes",
)


def metric_rows(records: list, resource: Mapping[str, str]) -> List[dict]:
    rows = []
    for attrs, members in _group(records, resource):
        columns, rest = resource_columns(attrs)
        for record in members:
            value = float(record.value)
            histogram = record.type == "histogram"
            rows.append({
                "timestamp": format_ns(record.time_ns),
                "metric_name": record.name,
                "metric_type": {"gauge": "gauge", "counter": "sum", "histogram": "histogram"}[record.type],
                # As the receiver stores a point: a histogram's value column stays 0, min/max are NULL for the rest.
                "value": 0.0 if histogram else value,
                "count": 1 if histogram else 0,
                "sum": value if histogram else 0.0,
                "min": value if histogram else None,
                "max": value if histogram else None,
                "bucket_counts": histogram_buckets(value) if histogram else [],
                "explicit_bounds": list(DEFAULT_BOUNDS) if histogram else [],
                "is_monotonic": 1 if record.type == "counter" else 0,
                "temporality": {"gauge": "", "counter": "cumulative", "histogram": "delta"}[record.type],
                "unit": record.unit or "",
                "description": record.description or "",
                "service_name": columns["service_name"],
                "project_name": columns["project_name"] or columns["service_name"],
                "project_version": columns["project_version"],
                "environment": columns["environment"],
                "attributes": dict(rest, **record.attributes) if rest else record.attributes,
            })
    return rows


# The span events' nested columns (schema v2), named in an insert only when a row of the batch has some.
TRACE_EVENT_COLUMNS = ("events.timestamp", "events.name", "events.attributes")


SIGNALS = {
    "traces": (traces_request, trace_rows, TRACE_COLUMNS),
    "logs": (logs_request, log_rows, LOG_COLUMNS),
    "metrics": (metrics_request, metric_rows, METRIC_COLUMNS),
}
