"""Owns turning track calls into records: arguments checked, values flattened and scrubbed, ids, times, counter totals."""

import math
import os
import re
import threading
import time
from typing import Dict, List, Optional

from . import _mapping, _values
from ._privacy import Scrubber


class SpanRecord:
    __slots__ = ("name", "attributes", "start_ns", "end_ns", "error", "status_message", "trace_id", "span_id", "project", "exception")
    signal = "traces"

    def __init__(self, name, attributes, start_ns, end_ns, error, status_message, trace_id, span_id, project, exception=None):
        self.name = name
        self.attributes = attributes
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.error = error
        self.status_message = status_message
        self.trace_id = trace_id
        self.span_id = span_id
        self.project = project
        # track_error's exception.* attributes, recorded as the span's "exception" event too (scrubbed).
        self.exception = exception


class LogRecord:
    __slots__ = ("body", "severity_text", "severity_number", "attributes", "time_ns", "observed_ns", "trace_id", "span_id", "project")
    signal = "logs"

    def __init__(self, body, severity_text, severity_number, attributes, time_ns, observed_ns, trace_id, span_id, project):
        self.body = body
        self.severity_text = severity_text
        self.severity_number = severity_number
        self.attributes = attributes
        self.time_ns = time_ns
        self.observed_ns = observed_ns
        self.trace_id = trace_id
        self.span_id = span_id
        self.project = project


class MetricRecord:
    """One data point. Counters carry the running total of their series (a cumulative sum since `start_ns`)."""

    __slots__ = ("name", "type", "value", "unit", "description", "attributes", "time_ns", "start_ns", "project")
    signal = "metrics"

    def __init__(self, name, type, value, unit, description, attributes, time_ns, start_ns, project):
        self.name = name
        self.type = type
        self.value = value
        self.unit = unit
        self.description = description
        self.attributes = attributes
        self.time_ns = time_ns
        self.start_ns = start_ns
        self.project = project


_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_HEX16 = re.compile(r"^[0-9a-fA-F]{16}$")


class RecordBuilder:
    """Builds the queued form of each call; raises ValueError naming the argument when one is unusable."""

    def __init__(self, scrub: Scrubber):
        self._scrub = scrub
        self._lock = threading.Lock()
        self._series: Dict[tuple, List[float]] = {}  # counter series -> [start_ns, running total]

    def ids(self, trace_id: Optional[str]) -> tuple:
        raw = os.urandom(24).hex()
        return (trace_id.lower() if trace_id else raw[:32]), raw[32:]

    def span(self, name, attributes, duration_ms, status, status_message, timestamp, trace_id, project_name) -> SpanRecord:
        if not isinstance(name, str) or not name:
            raise ValueError("event name must be a non-empty string")
        start_ms = _values.to_epoch_ms(timestamp, time.time() * 1000.0)
        duration = 0.0 if duration_ms is None else duration_ms
        if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not math.isfinite(duration) or duration < 0:
            raise ValueError("duration_ms must be a number >= 0, got %r" % (duration_ms,))
        if trace_id is not None and not (isinstance(trace_id, str) and _HEX32.match(trace_id)):
            raise ValueError("trace_id must be 32 hex characters, got %r" % (trace_id,))
        status_text = str(status).lower()
        if status_text not in ("ok", "error"):
            raise ValueError("status must be 'ok' or 'error', got %r" % (status,))
        tid, sid = self.ids(trace_id)
        start_ns = _values.ms_to_ns(start_ms)
        scrub = self._scrub
        return SpanRecord(
            name,
            scrub.attributes(_values.flatten_attributes(attributes)),
            start_ns,
            start_ns + int(math.floor(duration * 1_000_000 + 0.5)),
            status_text == "error",
            scrub(status_message or ""),
            tid,
            sid,
            project_name,
        )

    def exception(self, record: SpanRecord, attributes: Dict[str, str]) -> SpanRecord:
        """Adds the "exception" span event (OpenTelemetry's place for a recorded exception) to an error's span."""
        record.exception = self._scrub.attributes(dict(attributes))
        return record

    def log(self, message, severity, attributes, trace_id, span_id, timestamp, project_name) -> LogRecord:
        level = _mapping.SEVERITIES.get(str(severity).lower())
        if level is None:
            raise ValueError("severity must be one of trace, debug, info, warn, error, fatal; got %r" % (severity,))
        if trace_id is not None and not (isinstance(trace_id, str) and _HEX32.match(trace_id)):
            raise ValueError("trace_id must be 32 hex characters, got %r" % (trace_id,))
        if span_id is not None and not (isinstance(span_id, str) and _HEX16.match(span_id)):
            raise ValueError("span_id must be 16 hex characters, got %r" % (span_id,))
        now_ms = time.time() * 1000.0
        body = message if isinstance(message, str) else _values.flatten_value(message) or ""
        return LogRecord(
            self._scrub(body),
            level[0],
            level[1],
            self._scrub.attributes(_values.flatten_attributes(attributes)),
            _values.ms_to_ns(_values.to_epoch_ms(timestamp, now_ms)),
            _values.ms_to_ns(now_ms),
            trace_id.lower() if trace_id else "",
            span_id.lower() if span_id else "",
            project_name,
        )

    def metric(self, name, value, type, unit, attributes, description, timestamp, project_name) -> MetricRecord:
        if not isinstance(name, str) or not name:
            raise ValueError("metric name must be a non-empty string")
        if type not in _mapping.METRIC_TYPES:
            raise ValueError("type must be one of %s, got %r" % (", ".join(_mapping.METRIC_TYPES), type))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError("value must be a finite number, got %r" % (value,))
        flat = self._scrub.attributes(_values.flatten_attributes(attributes))
        time_ns = _values.ms_to_ns(_values.to_epoch_ms(timestamp, time.time() * 1000.0))
        start_ns = time_ns
        if type == "counter":
            if value < 0:
                raise ValueError("a counter only goes up: got the increment %r" % (value,))
            key = (project_name, name, tuple(sorted(flat.items())))
            with self._lock:
                series = self._series.get(key)
                if series is None:
                    series = self._series[key] = [time_ns, 0.0]
                series[1] += value
                start_ns, value = int(series[0]), series[1]
        return MetricRecord(name, type, value, unit or "", description or "", flat, time_ns, start_ns, project_name)
