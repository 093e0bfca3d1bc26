"""Owns consent and privacy: the user's opt-outs, the shared anonymous install id, and PII scrubbing of values."""

import functools
import hashlib
import hmac
import ipaddress
import os
import re
import uuid
from typing import Callable, Mapping, Optional

OPT_OUT_FILE = ".automagik-no-telemetry"
USER_ID_FILE = os.path.join(".automagik", "user_id")


def opted_out(env: Mapping[str, str]) -> Optional[str]:
    """Why the user turned telemetry off, or None. The user's opt-out wins over the app's code."""
    enabled = env.get("AUTOMAGIK_TELEMETRY_ENABLED", "").strip().lower()
    if enabled in ("false", "0", "no", "off"):
        return "AUTOMAGIK_TELEMETRY_ENABLED=%s" % env["AUTOMAGIK_TELEMETRY_ENABLED"]
    dnt = env.get("DO_NOT_TRACK", "").strip().lower()
    if dnt not in ("", "0", "false"):
        return "DO_NOT_TRACK=%s" % env["DO_NOT_TRACK"]
    if os.path.exists(os.path.join(_home(env), OPT_OUT_FILE)):
        return "~/%s exists" % OPT_OUT_FILE
    return None


def anonymous_id(env: Mapping[str, str]) -> str:
    """A random UUID kept in ~/.automagik/user_id, shared by every project (and SDK) on this machine."""
    path = os.path.join(_home(env), USER_ID_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            existing = handle.read().strip()
        if existing:
            return existing
    except OSError:
        pass
    fresh = str(uuid.uuid4())
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # O_EXCL: when two processes race, the first file written is the id both keep.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(fresh + "\n")
        return fresh
    except FileExistsError:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip() or fresh
    except OSError:
        return fresh


def _home(env: Mapping[str, str]) -> str:
    return env.get("HOME") or os.path.expanduser("~")


# ---------------------------------------------------------------------------------------------------------------
# Scrubbing. Each detector is a pattern (plus a check where a pattern alone would over-match) and its marker.

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_API_KEY = re.compile(
    r"\b(?:sk|pk|rk)[-_](?:live[-_]|test[-_]|proj[-_])?[A-Za-z0-9_-]{16,}"
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}"
    r"|\bgithub_pat_[A-Za-z0-9_]{30,}"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"
    r"|\bAKIA[0-9A-Z]{16}\b"
    r"|\bAIza[0-9A-Za-z_-]{35}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
)
_CARD = re.compile(r"(?<!\d)(?<!\d\.)\d(?:[ -]?\d){12,18}(?!\d)(?!\.\d)")
_IPV6 = re.compile(r"(?<![0-9A-Za-z:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|\d{1,3}(?:\.\d{1,3}){3})(?![0-9A-Za-z:])")
_IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.])")
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]?\d{2,4}){2,4}|\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4})(?![\w])")
_HOME_PATH = re.compile(r"(?:/home/|/Users/|[A-Za-z]:\\Users\\)[^/\\\s\"':]+")


# One pass over the text: the detectors as named alternatives, earliest first where two could match at one place.
_ANY = re.compile("|".join("(?P<%s>%s)" % (name, pattern.pattern) for name, pattern in (
    ("path", _HOME_PATH),
    ("bearer", re.compile(r"(?i:\b(?P<scheme>bearer|basic)\s+[A-Za-z0-9\-._~+/]{8,}=*)")),
    ("keyed", re.compile(r"(?i:\b(?P<label>(?:api[_-]?key|access[_-]?token|auth[_-]?token|secret|password|passwd|token)\s*[=:]\s*)[\"']?[^\s\"',;&]{4,}[\"']?)")),
    ("apikey", _API_KEY),
    ("email", _EMAIL),
    ("card", _CARD),
    ("ipv6", _IPV6),
    ("ipv4", _IPV4),
    ("phone", _PHONE),
)))
_MARKS = {"path": "path", "bearer": "secret", "keyed": "secret", "apikey": "secret", "email": "email", "card": "card", "ipv6": "ip", "ipv4": "ip", "phone": "phone"}


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _valid_ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False


class Scrubber:
    """Replaces PII in text with a marker ('redact': `[email]`) or a keyed hash ('hash': `[email:1a2b3c4d5e6f]`).

    'hash' is HMAC-SHA256 keyed by the install's anonymous id, so the same value gives the same mark on one machine
    (joinable) and different marks elsewhere (not reversible by a dictionary of known values).
    """

    def __init__(self, mode: str, key_source: Callable[[], str]):
        self.mode = mode
        self._key_source = key_source
        self._key: Optional[bytes] = None
        # Attribute values repeat (routes, plans, statuses): short ones are scrubbed once.
        self._cached = functools.lru_cache(maxsize=4096)(self._scrub)

    def _mark(self, kind: str, value: str) -> str:
        if self.mode != "hash":
            return "[%s]" % kind
        if self._key is None:
            self._key = self._key_source().encode("utf-8")
        digest = hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:12]
        return "[%s:%s]" % (kind, digest)

    def __call__(self, text: str) -> str:
        if self.mode == "off" or len(text) < 6:  # the shortest PII a detector knows ("a@b.io") has 6 characters
            return text
        if len(text) <= 256:
            return self._cached(text)
        return self._scrub(text)

    def _scrub(self, text: str) -> str:
        return _ANY.sub(self._replace, text)

    def _replace(self, match: "re.Match") -> str:
        kind = match.lastgroup
        found = match.group(0)
        if kind == "bearer":
            return "%s %s" % (match.group("scheme"), self._mark("secret", found))
        if kind == "keyed":
            return match.group("label") + self._mark("secret", found)
        if kind == "card" and not luhn_ok(re.sub(r"[ -]", "", found)):
            return found
        if kind == "ipv6" and not _valid_ipv6(found):
            return found
        if kind == "phone" and not 7 <= sum(c.isdigit() for c in found) <= 15:
            return found
        return self._mark(_MARKS[kind], found)

    def attributes(self, attributes: dict) -> dict:
        if self.mode == "off":
            return attributes
        return {key: self(value) for key, value in attributes.items()}
