"""Owns AutomagikTelemetry, the SDK's face: track calls, a bounded queue, a background sender, never raising into the host."""

import atexit
import functools
import inspect
import logging
import math
import os
import re
import signal as signals
import threading
import time
import traceback
import uuid
from collections import deque
from typing import Any, Callable, Dict, List, Mapping, Optional

from . import _mapping
from ._mapping import LogRecord, MetricRecord, SpanRecord
from ._options import ConfigError, Options, resolve_options
from ._privacy import Scrubber, anonymous_id, opted_out
from ._transport import Sender

__version__ = "0.1.0"

logger = logging.getLogger("automagik_telemetry")

_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_HEX16 = re.compile(r"^[0-9a-fA-F]{16}$")


class _Batch:
    """One request's worth of one signal. Its bytes and id are fixed on creation: a retry sends the same, deduplicated."""

    __slots__ = ("id", "signal", "records", "url", "body", "stale")

    def __init__(self, signal: str, records: list, sender: Sender, resource: dict):
        self.id = str(uuid.uuid4())
        self.signal = signal
        self.records = records
        self.build(sender, resource)

    @property
    def count(self) -> int:
        return len(self.records)

    def build(self, sender: Sender, resource: dict) -> None:
        # The id stays when records were dropped from a waiting batch: if an earlier attempt was stored after all,
        # the smaller insert is a duplicate ClickHouse discards; if not, it is stored once.
        self.url, self.body = sender.body(self.signal, self.records, resource)
        self.stale = False


class AutomagikTelemetry:
    """Tracks events, errors, metrics and logs for one project and sends them in the background.

    Every public method is safe to call from any thread and never raises: problems are logged at DEBUG on the
    "automagik_telemetry" logger and passed to `on_error` when given.
    """

    def __init__(
        self,
        project_name: Optional[str] = None,
        version: Optional[str] = None,
        environment: Optional[str] = None,
        backend: Optional[str] = None,
        endpoint: Optional[str] = None,
        clickhouse_endpoint: Optional[str] = None,
        clickhouse_database: Optional[str] = None,
        clickhouse_username: Optional[str] = None,
        clickhouse_password: Optional[str] = None,
        batch_size: Optional[int] = None,
        clickhouse_batch_size: Optional[int] = None,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        compression_enabled: Optional[bool] = None,
        flush_interval: Optional[float] = None,
        max_queue_size: Optional[int] = None,
        enabled: Optional[bool] = None,
        *,
        service_name: Optional[str] = None,
        clickhouse_table: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        scrub: Optional[str] = None,
        identify: Optional[str] = None,
        exit_timeout: float = 2.0,
        on_error: Optional[Callable[[BaseException], None]] = None,
        env: Optional[Mapping[str, str]] = None,
    ):
        args = {k: v for k, v in locals().items() if k not in ("self", "env", "on_error", "exit_timeout")}
        self._on_error = on_error
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._send_lock = threading.Lock()
        self._yield = threading.Event()
        self._store_down = False
        self._queue: deque = deque()
        self._pending: List[_Batch] = []  # batches whose store did not answer, oldest first
        self._in_flight = 0
        self._counters = {"sent": 0, "retried": 0, "dropped": 0, "failed": 0, "failed_batches": 0}
        self._series: Dict[tuple, List[float]] = {}
        self._closed = False
        self._exit_timeout = exit_timeout
        self._thread: Optional[threading.Thread] = None
        self.options: Optional[Options] = None
        self.disabled_reason: Optional[str] = None
        environ = os.environ if env is None else env
        try:
            options = resolve_options(args, environ)
        except ConfigError as error:
            # A misconfigured SDK must not take the app down: it reports once and tracks nothing.
            self.disabled_reason = str(error)
            self._report(error)
            return
        reason = opted_out(environ)
        if reason is None and not options.enabled:
            reason = "enabled=False"
        if reason is not None:
            self.disabled_reason = reason
            logger.debug("telemetry off: %s", reason)
            return
        self.options = options
        self._scrub = Scrubber(options.scrub, lambda: anonymous_id(environ))
        extra = {"user.id": anonymous_id(environ)} if options.identify == "anonymous" else {}
        self._resource = {
            "project_name": options.project_name,
            "service_name": options.service_name,
            "version": options.version,
            "environment": options.environment,
            "extra": extra,
        }
        self._sender = Sender(options, __version__)
        self._thread = threading.Thread(target=self._run, name="automagik-telemetry", daemon=True)
        self._thread.start()
        atexit.register(self._at_exit)

    # -----------------------------------------------------------------------------------------------------------
    # Tracking

    @property
    def enabled(self) -> bool:
        return self.options is not None and not self._closed

    def track_event(self, name: str, attributes: Optional[Mapping[str, Any]] = None, duration_ms: Optional[float] = None, status: str = "ok", *, status_message: Optional[str] = None, timestamp: Any = None, trace_id: Optional[str] = None, project_name: Optional[str] = None) -> None:
        """Records one event (a span). Bad arguments are reported and the event skipped; never raises."""
        if self.options is None or self._closed:
            return
        try:
            record = self._span_record(name, attributes, duration_ms, status, status_message, timestamp, trace_id, project_name)
        except Exception as error:  # noqa: BLE001 - the host's call must not fail
            self._report(ValueError("track_event(%r): %s" % (name, error)))
            return
        self._enqueue(record)

    def track_error(self, exc: BaseException, attributes: Optional[Mapping[str, Any]] = None, *, timestamp: Any = None, trace_id: Optional[str] = None, project_name: Optional[str] = None) -> None:
        """Records an error as an ERROR event named "error" with OpenTelemetry's exception.* attributes."""
        if self.options is None or self._closed:
            return
        try:
            if not isinstance(exc, BaseException):
                exc = Exception(str(exc))
            message = str(exc)
            stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)) if exc.__traceback__ else ""
            merged = {"exception.type": type(exc).__name__, "exception.message": message, "exception.stacktrace": stack}
            merged.update(attributes or {})
        except Exception as error:  # noqa: BLE001
            self._report(ValueError("track_error: %s" % error))
            return
        self.track_event("error", merged, None, "error", status_message=message, timestamp=timestamp, trace_id=trace_id, project_name=project_name)

    def track_metric(self, name: str, value: float, type: str = "gauge", unit: Optional[str] = None, attributes: Optional[Mapping[str, Any]] = None, *, description: Optional[str] = None, timestamp: Any = None, project_name: Optional[str] = None) -> None:
        """Records one data point: "gauge" (a reading), "counter" (an increment; sent as a monotonic cumulative sum)
        or "histogram" (one observation)."""
        if self.options is None or self._closed:
            return
        try:
            record = self._metric_record(name, value, type, unit, attributes, description, timestamp, project_name)
        except Exception as error:  # noqa: BLE001
            self._report(ValueError("track_metric(%r): %s" % (name, error)))
            return
        self._enqueue(record)

    def track_log(self, message: str, severity: str = "info", attributes: Optional[Mapping[str, Any]] = None, trace_id: Optional[str] = None, span_id: Optional[str] = None, *, timestamp: Any = None, project_name: Optional[str] = None) -> None:
        """Records one log line with an OTLP severity (trace, debug, info, warn, error, fatal)."""
        if self.options is None or self._closed:
            return
        try:
            record = self._log_record(message, severity, attributes, trace_id, span_id, timestamp, project_name)
        except Exception as error:  # noqa: BLE001
            self._report(ValueError("track_log: %s" % error))
            return
        self._enqueue(record)

    def span(self, name: str, attributes: Optional[Mapping[str, Any]] = None) -> "_Span":
        """Times a block (`with client.span("x"):`) or a function (`@client.span("x")`); ERROR and re-raise on exception."""
        return _Span(self, name, attributes)

    # -----------------------------------------------------------------------------------------------------------
    # Delivery

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Sends everything queued now; True when nothing is left unsent. Waits at most `timeout` seconds."""
        if self.options is None:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            # A background send waiting out a backoff gives way (its batch is kept): the caller's flush goes now.
            self._yield.set()
            acquired = self._send_lock.acquire(timeout=-1 if timeout is None else max(0.0, timeout))
            self._yield.clear()
            if not acquired:
                return False
            try:
                self._drain(True, deadline)
            finally:
                self._send_lock.release()
        except Exception as error:  # noqa: BLE001
            self._report(error)
        return self.stats()["queued"] == 0

    def shutdown(self, timeout: Optional[float] = None) -> bool:
        """Flushes, stops the sender and tracks nothing more. What could not be sent is counted as dropped."""
        if self.options is None or self._closed:
            return True
        delivered = self.flush(timeout)
        with self._lock:
            self._closed = True
            self._wake.notify_all()
            left = len(self._queue) + sum(b.count for b in self._pending)
            self._queue.clear()
            self._pending.clear()
            self._counters["dropped"] += left
        if left:
            self._report(RuntimeError("shutdown left %d record(s) unsent" % left))
        try:
            atexit.unregister(self._at_exit)
        except Exception:  # noqa: BLE001
            pass
        return delivered

    def install_signal_handlers(self, signums=(signals.SIGTERM,)) -> None:
        """Opt-in: on SIGTERM (and the other given signals), flush within exit_timeout, then let the signal do what
        it did before (the previous handler, or the default action). Call from the main thread."""
        for signum in signums:
            previous = signals.getsignal(signum)

            def handler(received, frame, previous=previous):
                self.shutdown(self._exit_timeout)
                if callable(previous):
                    previous(received, frame)
                elif previous == signals.SIG_IGN:
                    return
                else:
                    signals.signal(received, signals.SIG_DFL)
                    os.kill(os.getpid(), received)

            signals.signal(signum, handler)

    def stats(self) -> Dict[str, int]:
        with self._lock:
            queued = len(self._queue) + sum(b.count for b in self._pending) + self._in_flight
            return dict(self._counters, queued=queued)

    # -----------------------------------------------------------------------------------------------------------
    # Internals

    def _report(self, error: BaseException) -> None:
        logger.debug("error: %s", error)
        if self._on_error is not None:
            try:
                self._on_error(error)
            except Exception:  # noqa: BLE001 - the host's own handler threw; nothing sensible is left to tell
                pass

    def _ids(self, trace_id: Optional[str]) -> tuple:
        raw = os.urandom(24).hex()
        return (trace_id.lower() if trace_id else raw[:32]), raw[32:]

    def _span_record(self, name, attributes, duration_ms, status, status_message, timestamp, trace_id, project_name) -> SpanRecord:
        if not isinstance(name, str) or not name:
            raise ValueError("event name must be a non-empty string")
        start_ms = _mapping.to_epoch_ms(timestamp, time.time() * 1000.0)
        duration = 0.0 if duration_ms is None else duration_ms
        if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not math.isfinite(duration) or duration < 0:
            raise ValueError("duration_ms must be a number >= 0, got %r" % (duration_ms,))
        if trace_id is not None and not (isinstance(trace_id, str) and _HEX32.match(trace_id)):
            raise ValueError("trace_id must be 32 hex characters, got %r" % (trace_id,))
        status_text = str(status).lower()
        if status_text not in ("ok", "error"):
            raise ValueError("status must be 'ok' or 'error', got %r" % (status,))
        tid, sid = self._ids(trace_id)
        start_ns = _mapping.ms_to_ns(start_ms)
        scrub = self._scrub
        return SpanRecord(
            name,
            scrub.attributes(_mapping.flatten_attributes(attributes)),
            start_ns,
            start_ns + int(math.floor(duration * 1_000_000 + 0.5)),
            status_text == "error",
            scrub(status_message or ""),
            tid,
            sid,
            project_name,
        )

    def _log_record(self, message, severity, attributes, trace_id, span_id, timestamp, project_name) -> LogRecord:
        level = _mapping.SEVERITIES.get(str(severity).lower())
        if level is None:
            raise ValueError("severity must be one of trace, debug, info, warn, error, fatal; got %r" % (severity,))
        if trace_id is not None and not (isinstance(trace_id, str) and _HEX32.match(trace_id)):
            raise ValueError("trace_id must be 32 hex characters, got %r" % (trace_id,))
        if span_id is not None and not (isinstance(span_id, str) and _HEX16.match(span_id)):
            raise ValueError("span_id must be 16 hex characters, got %r" % (span_id,))
        now_ms = time.time() * 1000.0
        body = message if isinstance(message, str) else _mapping.flatten_value(message) or ""
        return LogRecord(
            self._scrub(body),
            level[0],
            level[1],
            self._scrub.attributes(_mapping.flatten_attributes(attributes)),
            _mapping.ms_to_ns(_mapping.to_epoch_ms(timestamp, now_ms)),
            _mapping.ms_to_ns(now_ms),
            trace_id.lower() if trace_id else "",
            span_id.lower() if span_id else "",
            project_name,
        )

    def _metric_record(self, name, value, type, unit, attributes, description, timestamp, project_name) -> MetricRecord:
        if not isinstance(name, str) or not name:
            raise ValueError("metric name must be a non-empty string")
        if type not in _mapping.METRIC_TYPES:
            raise ValueError("type must be one of %s, got %r" % (", ".join(_mapping.METRIC_TYPES), type))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError("value must be a finite number, got %r" % (value,))
        flat = self._scrub.attributes(_mapping.flatten_attributes(attributes))
        time_ns = _mapping.ms_to_ns(_mapping.to_epoch_ms(timestamp, time.time() * 1000.0))
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

    def _enqueue(self, record) -> None:
        o = self.options
        with self._lock:
            if self._closed:
                return
            held = len(self._queue) + sum(b.count for b in self._pending) + self._in_flight
            dropped = 0
            while held >= o.max_queue_size and (self._queue or self._pending):
                self._drop_oldest()
                held -= 1
                dropped += 1
            if held >= o.max_queue_size:
                dropped += 1  # no room at all (everything held is in flight): the new record is the one dropped
            else:
                self._queue.append(record)
            if dropped:
                self._counters["dropped"] += dropped
            if len(self._queue) >= o.batch_size:
                self._wake.notify()

    def _drop_oldest(self) -> None:
        # The oldest records are those in batches waiting for a retry; a batch losing records is rebuilt smaller.
        if self._pending:
            batch = self._pending[0]
            batch.records.pop(0)
            if not batch.records:
                self._pending.pop(0)
            else:
                batch.stale = True  # rebuilt when next sent, outside the track call
            return
        self._queue.popleft()

    def _run(self) -> None:
        o = self.options
        next_flush = time.monotonic() + o.flush_interval
        while True:
            with self._lock:
                # A full batch goes at once, unless the store is down: then only the timer (or a flush) tries again.
                while not self._closed and time.monotonic() < next_flush and (len(self._queue) < o.batch_size or self._store_down):
                    self._wake.wait(max(0.0, next_flush - time.monotonic()))
                if self._closed:
                    return
                full_only = time.monotonic() < next_flush
            if not full_only:
                next_flush = time.monotonic() + o.flush_interval
            if self._send_lock.acquire(blocking=False):
                try:
                    self._drain(not full_only, None, interruptible=True)
                except Exception as error:  # noqa: BLE001
                    self._report(error)
                finally:
                    self._send_lock.release()
            else:
                time.sleep(0.01)

    def _next_batch(self, include_partial: bool) -> Optional[_Batch]:
        o = self.options
        with self._lock:
            if self._pending:
                batch = self._pending.pop(0)
                self._in_flight += batch.count
            else:
                batch = None
        if batch is not None:
            if batch.stale:
                batch.build(self._sender, self._resource)
            return batch
        with self._lock:
            if not self._queue or (not include_partial and len(self._queue) < o.batch_size):
                return None
            signal = self._queue[0].signal
            records = []
            # One signal a request: take the oldest records of the first record's signal, up to batch_size.
            while self._queue and len(records) < o.batch_size and self._queue[0].signal == signal:
                records.append(self._queue.popleft())
            self._in_flight += len(records)
        return _Batch(signal, records, self._sender, self._resource)

    def _drain(self, include_partial: bool, deadline: Optional[float], interruptible: bool = False) -> None:
        """Sends batches until none is left (or only a partial one, unless `include_partial`) or the store is down."""
        never = threading.Event()

        def sleep(delay: float) -> bool:
            if deadline is not None and time.monotonic() + delay > deadline:
                return False
            return not (self._yield if interruptible else never).wait(delay)

        def on_retry(result, attempt, delay):
            with self._lock:
                self._counters["retried"] += 1
            logger.debug("retry %d/%d in %d ms: %s", attempt, self.options.max_retries, round(delay * 1000), result.message)

        while True:
            batch = self._next_batch(include_partial)
            if batch is None:
                return
            started = time.monotonic()
            try:
                result = self._sender.send_with_retries(batch.url, batch.body, batch.id, batch.count, on_retry, sleep)
            except Exception as error:  # noqa: BLE001
                result = None
                self._report(error)
            with self._lock:
                self._in_flight -= batch.count
                if result is not None and result.ok:
                    self._counters["sent"] += batch.count
                elif result is not None and result.retryable:
                    # The store did not answer: keep the batch (same id, same bytes) for the next attempt.
                    self._counters["failed_batches"] += 1
                    self._pending.insert(0, batch)
                else:
                    self._counters["failed_batches"] += 1
                    self._counters["failed"] += batch.count
            self._store_down = result is not None and not result.ok and result.retryable
            if result is not None and result.ok:
                where = "ClickHouse" if self._sender.backend == "clickhouse" else "OTLP"
                logger.debug("Flushed %d rows to %s in %d ms", batch.count, where, round((time.monotonic() - started) * 1000))
                continue
            if result is not None:
                self._report(RuntimeError(result.message))
            if result is None or result.retryable:
                return  # store down: try again at the next interval or flush

    def _at_exit(self) -> None:
        try:
            self.shutdown(self._exit_timeout)
        except Exception:  # noqa: BLE001
            pass


class _Span:
    """Context manager and decorator: times the block and tracks it, ERROR (then re-raised) on exception."""

    def __init__(self, client: AutomagikTelemetry, name: str, attributes: Optional[Mapping[str, Any]]):
        self._client = client
        self._name = name
        self._attributes = dict(attributes or {})

    def __enter__(self) -> "_Span":
        self._started_at = time.time() * 1000.0
        self._started = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        duration = (time.perf_counter() - self._started) * 1000.0
        if exc is None:
            self._client.track_event(self._name, self._attributes, duration, timestamp=self._started_at)
        else:
            message = str(exc)
            attributes = dict(self._attributes, **{"exception.message": message})
            self._client.track_event(self._name, attributes, duration, "error", status_message=message, timestamp=self._started_at)
        return False

    def __call__(self, fn: Callable) -> Callable:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args, **kwargs):
                with _Span(self._client, self._name, self._attributes):
                    return await fn(*args, **kwargs)
            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _Span(self._client, self._name, self._attributes):
                return fn(*args, **kwargs)
        return wrapper
