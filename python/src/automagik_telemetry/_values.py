"""Owns value conversions both SDKs must agree on: attribute values flattened as JavaScript writes them, and times."""

import json
import math
from datetime import datetime, timezone
from typing import Dict, Mapping, Optional



def js_number(value: float) -> str:
    """A number as JavaScript's String(n) writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        text = "%se%s%d" % (mantissa, sign, abs(int(exponent)))
    return text


def flatten_value(value: object) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return js_number(value)  # type: ignore[arg-type]
    if isinstance(value, (dict, list, tuple)):
        try:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):
            pass  # circular or too deep for JSON: its text, or at least its type
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a host object whose __str__ fails, or too deep to print
        return "<%s>" % type(value).__name__


def flatten_attributes(attributes: Optional[Mapping[str, object]]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    if not attributes:
        return out
    for key, value in attributes.items():
        flat = flatten_value(value)
        if flat is not None:
            out[str(key)] = flat
    return out


def to_epoch_ms(value: object, now_ms: float) -> float:
    """Epoch milliseconds from a datetime, epoch milliseconds or an ISO string; ValueError when unreadable."""
    if value is None:
        return now_ms
    if isinstance(value, datetime):
        # A naive datetime is local time, as Python means it (and as JavaScript's Date.parse reads an ISO string
        # without an offset).
        return value.timestamp() * 1000.0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError("timestamp %r is not a date" % value)
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("timestamp %r is not a date" % value) from None
        return to_epoch_ms(moment, now_ms)
    raise ValueError("timestamp %r is not a date" % (value,))


def ms_to_ns(ms: float) -> int:
    # As the TypeScript SDK: whole microseconds, then nanoseconds.
    return round_half_up(ms * 1000) * 1000


def round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def format_ms(ms: int) -> str:
    """Epoch milliseconds as DateTime64(3) text in UTC: 'YYYY-MM-DD hh:mm:ss.sss'."""
    moment = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    return "%s.%03d" % (moment.strftime("%Y-%m-%d %H:%M:%S"), ms % 1000)


def format_ns(ns: int) -> str:
    """Epoch nanoseconds as DateTime64(9) text in UTC: 'YYYY-MM-DD hh:mm:ss.nnnnnnnnn'."""
    moment = datetime.fromtimestamp(ns // 1_000_000_000, tz=timezone.utc)
    return "%s.%09d" % (moment.strftime("%Y-%m-%d %H:%M:%S"), ns % 1_000_000_000)
