"""Owns delivery: the bounded queue, batches of one signal each, the background sender, kept retries, the counters."""

import logging
import os
import threading
import time
import uuid
import weakref
from collections import deque
from typing import Callable, Dict, List, Optional

from ._options import Options
from ._transport import Sender

logger = logging.getLogger("automagik_telemetry")


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


class BatchProcessor:
    """Queues records (at most max_queue_size, oldest dropped and counted) and sends them in batches from a daemon
    thread: when batch_size wait, every flush_interval, and on flush()."""

    def __init__(self, options: Options, sender: Sender, resource: dict, report: Callable[[BaseException], None]):
        self.options = options
        self._sender = sender
        self._resource = resource
        self._report = report
        self._lock = threading.RLock()  # re-entrant: a SIGTERM handler may flush while the main thread holds it
        self._wake = threading.Condition(self._lock)
        self._send_lock = threading.Lock()
        self._yield = threading.Event()
        self._store_down = False
        self._queue: deque = deque()
        self._pending: List[_Batch] = []  # batches whose store did not answer, oldest first
        self._in_flight = 0
        self._counters = {"sent": 0, "retried": 0, "dropped": 0, "failed": 0, "failed_batches": 0}
        self._closed = False
        self._start()
        if hasattr(os, "register_at_fork"):
            # A forked child (gunicorn, multiprocessing) has no sender thread: it gets its own, and an empty queue
            # (what was queued before the fork is the parent's to send).
            me = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: me() and me()._after_fork())  # type: ignore[union-attr]

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="automagik-telemetry", daemon=True)
        self._thread.start()

    def _after_fork(self) -> None:
        self._lock = threading.RLock()  # re-entrant: a SIGTERM handler may flush while the main thread holds it
        self._wake = threading.Condition(self._lock)
        self._send_lock = threading.Lock()
        self._yield = threading.Event()
        self._queue.clear()
        self._pending.clear()
        self._in_flight = 0
        if not self._closed:
            self._start()

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Sends everything queued now; True when nothing is left unsent. Waits at most `timeout` seconds."""
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

    def close(self) -> int:
        """Stops the sender; returns how many records were left unsent (counted as dropped)."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()
            left = len(self._queue) + sum(b.count for b in self._pending)
            self._queue.clear()
            self._pending.clear()
            self._counters["dropped"] += left
        return left

    def stats(self) -> Dict[str, int]:
        with self._lock:
            queued = len(self._queue) + sum(b.count for b in self._pending) + self._in_flight
            return dict(self._counters, queued=queued)

    def enqueue(self, record) -> None:
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
                    self._counters["sent"] += result.accepted
                    self._counters["failed"] += batch.count - result.accepted
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
                logger.debug("Flushed %d rows to %s in %d ms", result.accepted, where, round((time.monotonic() - started) * 1000))
                if result.accepted < batch.count:
                    self._report(RuntimeError("%d record(s) rejected by %s: %s" % (batch.count - result.accepted, self._sender.target, result.message)))
                continue
            if result is not None:
                self._report(RuntimeError(result.message))
            if result is None or result.retryable:
                return  # store down: try again at the next interval or flush
