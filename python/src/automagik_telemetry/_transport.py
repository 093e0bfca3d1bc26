"""Owns sending one batch: the two backends' requests, one HTTP POST (gzip, timeout), and the retry policy.

Retried, as in the TypeScript SDK: network errors; ClickHouse 5xx and 429; OTLP 429, 502, 503, 504 (the OTLP spec's
list). Backoff is exponential with full jitter (base 100 ms, cap 5 s); a server's Retry-After wins.
"""

import base64
import email.utils
import gzip
import json
import random
import socket
import ssl
import time
import urllib.error
import urllib.request
from typing import Callable, Dict, Optional, Tuple
from urllib.parse import quote, urlsplit

from . import _mapping

OTLP_RETRYABLE = frozenset((429, 502, 503, 504))
BASE_DELAY = 0.1
MAX_DELAY = 5.0


class SendResult:
    """What one attempt (or all of them) came to: sent, failed for good, or failed but worth trying later."""

    __slots__ = ("ok", "retryable", "status", "message", "retry_after", "accepted")

    def __init__(self, ok: bool, retryable: bool = False, status: Optional[int] = None, message: str = "", retry_after: Optional[float] = None, accepted: int = 0):
        self.ok = ok
        self.retryable = retryable
        self.status = status
        self.message = message
        self.retry_after = retry_after
        self.accepted = accepted


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Retry-After in seconds: delay-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        at = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, at - (time.time() if now is None else now))


def backoff_delay(attempt: int, retry_after: Optional[float] = None, rand: Callable[[], float] = random.random) -> float:
    """Delay before retry number `attempt` (1-based), in seconds."""
    if retry_after is not None:
        return min(retry_after, MAX_DELAY * 6)
    ceiling = min(MAX_DELAY, BASE_DELAY * 2 ** (attempt - 1))
    return ceiling / 2 + rand() * ceiling / 2


def basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(("%s:%s" % (username, password)).encode("utf-8")).decode("ascii")


def post(url: str, body: bytes, headers: Dict[str, str], timeout: float, compress: bool, ca_file: Optional[str] = None) -> Tuple[int, bytes, Optional[str]]:
    """One POST; returns (status, body, Retry-After). Raises OSError subclasses on network failure.
    An https `url` is verified against `ca_file` when given (the stack's own CA), else the system's CAs."""
    if compress:
        body = gzip.compress(body, compresslevel=6)
        headers = dict(headers, **{"Content-Encoding": "gzip"})
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    direct = _loopback(urlsplit(url).hostname or "")
    opener = _trusting(ca_file, direct) if ca_file and url.startswith("https:") else _DIRECT if direct else _DEFAULT
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read(), response.headers.get("Retry-After")
    except urllib.error.HTTPError as error:
        try:
            payload = error.read()
        except OSError:
            payload = b""
        return error.code, payload, error.headers.get("Retry-After") if error.headers else None


# The local stack is reached directly even when HTTP(S)_PROXY is set (a proxy cannot reach this machine's loopback);
# other endpoints go through the proxies the environment names, as urllib does.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_DEFAULT = urllib.request.build_opener()


_TRUSTING: Dict[Tuple[str, bool], urllib.request.OpenerDirector] = {}


def _trusting(ca_file: str, direct: bool) -> urllib.request.OpenerDirector:
    """An opener whose https connections trust `ca_file` (read once per process and file)."""
    key = (ca_file, direct)
    if key not in _TRUSTING:
        handlers = [urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=ca_file))]
        if direct:
            handlers.append(urllib.request.ProxyHandler({}))
        _TRUSTING[key] = urllib.request.build_opener(*handlers)
    return _TRUSTING[key]


def _untrusted(error: BaseException) -> Optional[ssl.SSLCertVerificationError]:
    """The certificate verification failure inside a urllib error, if that is what it is."""
    reason = getattr(error, "reason", error)
    return reason if isinstance(reason, ssl.SSLCertVerificationError) else None


def _loopback(host: str) -> bool:
    return host == "localhost" or host == "::1" or host.startswith("127.")


def _partial_success(payload: bytes) -> Tuple[int, str]:
    """OTLP's partial success: how many items the receiver refused for good, and why. An unreadable 200 is a success."""
    try:
        partial = json.loads(payload.decode("utf-8")).get("partialSuccess") or {}
        rejected = next((partial[k] for k in ("rejectedSpans", "rejectedLogRecords", "rejectedDataPoints") if k in partial), 0)
        return int(rejected), str(partial.get("errorMessage", ""))
    except (ValueError, AttributeError, TypeError):
        return 0, ""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return "%s://%s" % (parts.scheme, parts.netloc)


def _where(url: str) -> str:
    parts = urlsplit(url)
    return "%s://%s%s" % (parts.scheme, parts.netloc, "" if parts.path in ("", "/") else parts.path)


class Sender:
    """Serializer + transport for both backends; `send` is one attempt, `send_with_retries` the policy around it."""

    def __init__(self, options, sdk_version: str):
        self.options = options
        self.sdk_version = sdk_version
        self.backend = options.backend
        self.target = options.clickhouse_endpoint if self.backend == "clickhouse" else options.endpoint
        auth = {}
        if options.clickhouse_password is not None:
            auth = {"Authorization": basic_auth(options.clickhouse_username, options.clickhouse_password)}
        if self.backend == "clickhouse":
            self.headers = dict({"Content-Type": "application/x-ndjson"}, **(auth or {"X-ClickHouse-User": options.clickhouse_username}))
        else:
            has_auth = any(k.lower() == "authorization" for k in options.headers)
            self.headers = dict(options.headers, **{"Content-Type": "application/json"})
            if not has_auth:
                self.headers.update(auth)

    def body(self, signal: str, records: list, resource: dict) -> Tuple[str, bytes]:
        """The request (URL, bytes) for a batch of one signal."""
        request_of, rows_of, columns = _mapping.SIGNALS[signal]
        o = self.options
        if self.backend == "otlp":
            payload = json.dumps(request_of(records, resource, self.sdk_version), separators=(",", ":"), ensure_ascii=False)
            return o.otlp_url(signal), payload.encode("utf-8")
        table = o.clickhouse_table if signal == "traces" else signal
        rows = rows_of(records, resource)
        if signal == "traces" and any("events.name" in row for row in rows):
            columns = tuple(columns) + _mapping.TRACE_EVENT_COLUMNS
        query = "INSERT INTO %s.%s (%s) FORMAT JSONEachRow" % (o.clickhouse_database, table, ", ".join(columns))
        lines = "".join(json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n" for row in rows)
        return "%s/?query=%s" % (o.clickhouse_endpoint, quote(query, safe="")), lines.encode("utf-8")

    def send(self, url: str, body: bytes, batch_id: str, count: int) -> SendResult:
        o = self.options
        if self.backend == "clickhouse":
            url = "%s&insert_deduplication_token=%s" % (url, quote(batch_id, safe=""))
        try:
            status, payload, retry_after = post(url, body, self.headers, o.timeout, o.compression_enabled, o.ca_file)
        except ValueError as error:
            # Refused before leaving this process (an invalid header or URL): trying again cannot help.
            return SendResult(False, False, None, "cannot send to %s: %s" % (_where(url), error))
        except (OSError, socket.timeout) as error:
            untrusted = _untrusted(error)
            if untrusted is not None:
                # Waiting does not make a certificate trusted: say which endpoint and which CA, once.
                ca = "the CA file %s" % o.ca_file if o.ca_file else "the system's trusted CAs"
                return SendResult(False, False, None, "the certificate of %s is not signed by %s (%s)" % (_origin(url), ca, untrusted.verify_message or untrusted.reason))
            reason = "no answer within %g s" % o.timeout if isinstance(error, socket.timeout) or "timed out" in str(error) else str(getattr(error, "reason", error))
            return SendResult(False, True, None, "cannot reach %s: %s" % (_where(url), reason))
        if status == 200:
            if self.backend == "otlp":
                rejected, reason = _partial_success(payload)
                return SendResult(True, message=reason, accepted=max(0, count - rejected))
            return SendResult(True, accepted=count)
        text = payload.decode("utf-8", "replace").strip()
        if self.backend == "clickhouse":
            retryable = status >= 500 or status == 429
            if status in (401, 403) or "AUTHENTICATION_FAILED" in text or "REQUIRED_PASSWORD" in text:
                message = 'authentication failed for user "%s" at %s' % (o.clickhouse_username, o.clickhouse_endpoint)
            else:
                message = "ClickHouse at %s answered HTTP %d: %s" % (o.clickhouse_endpoint, status, text.split("\n")[0][:300])
        else:
            retryable = status in OTLP_RETRYABLE
            try:
                detail = str(json.loads(text).get("message", ""))
            except (ValueError, AttributeError):
                detail = text[:200]
            if status in (401, 403):
                message = 'authentication failed for user "%s" at %s' % (o.clickhouse_username, _where(url))
            else:
                message = "OTLP receiver at %s answered HTTP %d" % (_where(url), status)
            if detail:
                message += ": " + detail
        return SendResult(False, retryable, status, message, parse_retry_after(retry_after))

    def send_with_retries(self, url: str, body: bytes, batch_id: str, count: int, on_retry: Callable[[SendResult, int, float], None], sleep: Callable[[float], bool]) -> SendResult:
        """Attempts until success, a non-retryable failure, or max_retries spent. `sleep` returns False to give up early."""
        attempt = 0
        while True:
            result = self.send(url, body, batch_id, count)
            if result.ok or not result.retryable or attempt >= self.options.max_retries:
                return result
            attempt += 1
            delay = backoff_delay(attempt, result.retry_after)
            on_retry(result, attempt, delay)
            if not sleep(delay):
                return result
