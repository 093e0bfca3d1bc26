"""Owns AutomagikTelemetry, the SDK's face: track calls, a bounded queue, a background sender, never raising into the host."""

import atexit
import functools
import inspect
import logging
import os
import signal as signals
import time
import traceback
from typing import Any, Callable, Dict, Mapping, Optional

from ._options import Options, resolve_options
from ._privacy import Scrubber, anonymous_id, opted_out
from ._processor import BatchProcessor
from ._records import RecordBuilder
from ._transport import Sender

__version__ = "0.1.0"

logger = logging.getLogger("automagik_telemetry")



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
        ca_file: Optional[str] = None,
        exit_timeout: float = 2.0,
        on_error: Optional[Callable[[BaseException], None]] = None,
        env: Optional[Mapping[str, str]] = None,
    ):
        args = {k: v for k, v in locals().items() if k not in ("self", "env", "on_error", "exit_timeout")}
        self._on_error = on_error
        self._closed = False
        self._exit_timeout = exit_timeout
        self.options: Optional[Options] = None
        self.disabled_reason: Optional[str] = None
        environ = os.environ if env is None else env
        try:
            options = resolve_options(args, environ)
        except Exception as error:  # noqa: BLE001 - ConfigError, or an argument of the wrong type
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
        try:
            self._records = RecordBuilder(Scrubber(options.scrub, lambda: anonymous_id(environ)))
            extra = {"user.id": anonymous_id(environ)} if options.identify == "anonymous" else {}
            self._resource = {
                "project_name": options.project_name,
                "service_name": options.service_name,
                "version": options.version,
                "environment": options.environment,
                "extra": extra,
            }
            self._processor = BatchProcessor(options, Sender(options, __version__), self._resource, self._report)
            atexit.register(self._at_exit)
        except Exception as error:  # noqa: BLE001 - whatever goes wrong here, the host's start must not fail
            self.disabled_reason = "could not start: %s" % error
            self._report(error)
            return
        self.options = options

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
            record = self._records.span(name, attributes, duration_ms, status, status_message, timestamp, trace_id, project_name)
        except Exception as error:  # noqa: BLE001 - the host's call must not fail
            self._report(ValueError("track_event(%r): %s" % (name, error)))
            return
        self._processor.enqueue(record)

    def track_error(self, exc: BaseException, attributes: Optional[Mapping[str, Any]] = None, *, timestamp: Any = None, trace_id: Optional[str] = None, project_name: Optional[str] = None) -> None:
        """Records an error as an ERROR event named "error" with OpenTelemetry's exception.* attributes, and the same
        attributes as the span's "exception" event."""
        if self.options is None or self._closed:
            return
        try:
            if not isinstance(exc, BaseException):
                exc = Exception(str(exc))
            message = str(exc)
            stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)) if exc.__traceback__ else ""
            exception = {"exception.type": type(exc).__name__, "exception.message": message, "exception.stacktrace": stack}
            merged = dict(exception)
            merged.update(attributes or {})
            record = self._records.span("error", merged, None, "error", message, timestamp, trace_id, project_name)
            self._records.exception(record, exception)
        except Exception as error:  # noqa: BLE001
            self._report(ValueError("track_error: %s" % error))
            return
        self._processor.enqueue(record)

    def track_metric(self, name: str, value: float, type: str = "gauge", unit: Optional[str] = None, attributes: Optional[Mapping[str, Any]] = None, *, description: Optional[str] = None, timestamp: Any = None, project_name: Optional[str] = None) -> None:
        """Records one data point: "gauge" (a reading), "counter" (an increment; sent as a monotonic cumulative sum)
        or "histogram" (one observation)."""
        if self.options is None or self._closed:
            return
        try:
            record = self._records.metric(name, value, type, unit, attributes, description, timestamp, project_name)
        except Exception as error:  # noqa: BLE001
            self._report(ValueError("track_metric(%r): %s" % (name, error)))
            return
        self._processor.enqueue(record)

    def track_log(self, message: str, severity: str = "info", attributes: Optional[Mapping[str, Any]] = None, trace_id: Optional[str] = None, span_id: Optional[str] = None, *, timestamp: Any = None, project_name: Optional[str] = None) -> None:
        """Records one log line with an OTLP severity (trace, debug, info, warn, error, fatal)."""
        if self.options is None or self._closed:
            return
        try:
            record = self._records.log(message, severity, attributes, trace_id, span_id, timestamp, project_name)
        except Exception as error:  # noqa: BLE001
            self._report(ValueError("track_log: %s" % error))
            return
        self._processor.enqueue(record)

    def span(self, name: str, attributes: Optional[Mapping[str, Any]] = None) -> "_Span":
        """Times a block (`with client.span("x"):`) or a function (`@client.span("x")`); ERROR and re-raise on exception."""
        return _Span(self, name, attributes)

    # -----------------------------------------------------------------------------------------------------------
    # Delivery

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Sends everything queued now; True when nothing is left unsent. Waits at most `timeout` seconds."""
        if self.options is None:
            return True
        return self._processor.flush(timeout)

    def shutdown(self, timeout: Optional[float] = None) -> bool:
        """Flushes, stops the sender and tracks nothing more. What could not be sent is counted as dropped."""
        if self.options is None or self._closed:
            return True
        delivered = self._processor.flush(timeout)
        self._closed = True
        left = self._processor.close()
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
        """{'queued', 'sent', 'retried', 'dropped', 'failed', 'failed_batches'}"""
        if self.options is None:
            return {"queued": 0, "sent": 0, "retried": 0, "dropped": 0, "failed": 0, "failed_batches": 0}
        return self._processor.stats()

    # -----------------------------------------------------------------------------------------------------------
    # Internals

    def _report(self, error: BaseException) -> None:
        logger.debug("error: %s", error)
        if self._on_error is not None:
            try:
                self._on_error(error)
            except Exception:  # noqa: BLE001 - the host's own handler threw; nothing sensible is left to tell
                pass

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
