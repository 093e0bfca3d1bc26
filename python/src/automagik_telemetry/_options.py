"""Owns the SDK's options: every default in one place, each also settable through its AUTOMAGIK_TELEMETRY_* variable.

Precedence, as in the TypeScript SDK: arguments > environment > (credentials only) the local stack's <home>/.env >
defaults.
"""

import json
import os
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, Mapping, Optional
from urllib.parse import unquote, urlsplit

PREFIX = "AUTOMAGIK_TELEMETRY_"

DEFAULTS = {
    "backend": "otlp",
    "endpoint": "http://localhost:4318/v1/traces",
    "clickhouse_endpoint": "http://localhost:8123",
    "clickhouse_database": "telemetry",
    "clickhouse_table": "traces",
    "clickhouse_username": "telemetry_ingest",
    "batch_size": 100,
    "timeout": 5.0,
    "max_retries": 3,
    "compression_enabled": True,
    "flush_interval": 5.0,
    "max_queue_size": 10000,
    "scrub": "redact",
}

# The local stack keeps the app's (ingest) credential in <home>/.env under these keys; the AUTOMAGIK_TELEMETRY_*
# names win when present there too (as the CLI's own resolver reads them).
DOTENV_USER_KEYS = (PREFIX + "CLICKHOUSE_USERNAME", "CLICKHOUSE_INGEST_USER")
DOTENV_PASSWORD_KEYS = (PREFIX + "CLICKHOUSE_PASSWORD", "CLICKHOUSE_INGEST_PASSWORD")

SCRUB_MODES = ("redact", "hash", "off")


class ConfigError(ValueError):
    """An option the SDK cannot use; the message names it and the accepted values."""


@dataclass(frozen=True)
class Options:
    project_name: str
    version: str
    environment: str
    service_name: str
    backend: str
    endpoint: str
    clickhouse_endpoint: str
    clickhouse_database: str
    clickhouse_table: str
    clickhouse_username: str
    clickhouse_password: Optional[str]
    batch_size: int
    timeout: float
    max_retries: int
    compression_enabled: bool
    flush_interval: float
    max_queue_size: int
    enabled: bool
    scrub: str
    identify: Optional[str]
    headers: Dict[str, str] = field(default_factory=dict)
    # The CA (PEM file) https endpoints are verified against; None: the system's.
    ca_file: Optional[str] = None

    @property
    def otlp_base(self) -> str:
        """The OTLP receiver's root: `endpoint` names the traces URL; logs and metrics sit beside it."""
        return re.sub(r"/v1/traces$", "", self.endpoint)

    def otlp_url(self, signal: str) -> str:
        if signal == "traces":
            return self.endpoint
        return "%s/v1/%s" % (self.otlp_base, signal)


def default_home(env: Mapping[str, str]) -> str:
    home = env.get(PREFIX + "HOME")
    return home if home else os.path.join(os.path.expanduser("~"), ".automagik-telemetry")


def read_dotenv(path: str) -> Dict[str, str]:
    """KEY=VALUE lines as the CLI writes them; a missing or unreadable file is an empty one."""
    out: Dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return out
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[7:].lstrip()
        key, eq, value = line.partition("=")
        key = key.strip()
        if not eq or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] in "\"'" and value.endswith(value[0]):
            inner = value[1:-1]
            if value[0] == '"':
                inner = inner.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
            value = inner
        else:
            hash_at = re.search(r"\s#", value)
            if hash_at:
                value = value[: hash_at.start()].rstrip()
        out[key] = value
    return out


def parse_otel_headers(value: Optional[str]) -> Dict[str, str]:
    """OTEL_EXPORTER_OTLP_HEADERS: comma-separated key=value pairs with URL-encoded values."""
    out: Dict[str, str] = {}
    for pair in (value or "").split(","):
        key, eq, raw = pair.partition("=")
        if eq and key.strip():
            out[key.strip()] = unquote(raw.strip())
    return out


def resolve_options(args: Mapping[str, object], env: Mapping[str, str]) -> Options:
    """Arguments > environment > defaults. Raises ConfigError naming the option and what it accepts."""

    def text(name: str, var: str) -> Optional[str]:
        value = args.get(name)
        if value is not None:
            return str(value)
        from_env = env.get(PREFIX + var)
        return from_env if from_env else None

    def number(name: str, var: str, fallback: float, minimum: float, whole: bool, scale: float = 1.0) -> float:
        value = args.get(name)
        if isinstance(value, str):  # as the TypeScript SDK: a number written as text is a number
            try:
                value = float(value)
            except ValueError:
                raise ConfigError("%s must be a number, got %r" % (name, value)) from None
        if value is None:
            raw = env.get(PREFIX + var)
            if not raw:
                return fallback
            try:
                value = float(raw) / scale
            except ValueError:
                raise ConfigError("%s (or %s%s) must be a number, got %r" % (name, PREFIX, var, raw)) from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < minimum:
            raise ConfigError("%s (or %s%s) must be a number >= %s, got %r" % (name, PREFIX, var, minimum, value))
        if whole:
            if int(value) != value:
                raise ConfigError("%s (or %s%s) must be a whole number, got %r" % (name, PREFIX, var, value))
            return int(value)
        return float(value)

    def flag(name: str, var: str, fallback: bool, true_words=("true", "1", "gzip")) -> bool:
        value = args.get(name)
        if value is not None:
            return bool(value)
        raw = env.get(PREFIX + var)
        if raw is None or raw == "":
            return fallback
        return raw.strip().lower() in true_words

    project_name = text("project_name", "PROJECT_NAME")
    if not project_name:
        raise ConfigError("project_name is required: pass AutomagikTelemetry(project_name='my-app') or set %sPROJECT_NAME" % PREFIX)
    backend = text("backend", "BACKEND") or DEFAULTS["backend"]
    if backend not in ("otlp", "clickhouse"):
        raise ConfigError("backend must be 'otlp' or 'clickhouse', got %r" % backend)
    scrub = text("scrub", "SCRUB") or DEFAULTS["scrub"]
    if scrub not in SCRUB_MODES:
        raise ConfigError("scrub must be one of %s, got %r" % (", ".join(SCRUB_MODES), scrub))
    identify = text("identify", "IDENTIFY")
    if identify not in (None, "anonymous"):
        raise ConfigError("identify must be None or 'anonymous', got %r" % identify)

    batch = args.get("batch_size")
    if batch is None:
        batch = args.get("clickhouse_batch_size")

    # What is not given points at the local stack, as `automagik-telemetry send` finds it: its <home>/.env.
    stack = read_dotenv(os.path.join(default_home(env), ".env"))
    # A home started with --tls serves https with its own CA: the default endpoints follow, trusting that CA.
    stack_ca = stack_tls_ca(default_home(env))
    scheme = "https" if stack_ca else "http"
    ca_file = text("ca_file", "CA_FILE") or stack_ca
    username = text("clickhouse_username", "CLICKHOUSE_USERNAME")
    password = text("clickhouse_password", "CLICKHOUSE_PASSWORD")
    if password is None:
        # No credential given: the stack's ingest credential.
        password = next((stack[k] for k in DOTENV_PASSWORD_KEYS if stack.get(k)), None)
        if username is None and password is not None:
            username = next((stack[k] for k in DOTENV_USER_KEYS if stack.get(k)), None)

    headers = parse_otel_headers(env.get("OTEL_EXPORTER_OTLP_HEADERS"))
    headers.update(dict(args.get("headers") or {}))  # type: ignore[arg-type]

    return Options(
        project_name=project_name,
        version=text("version", "PROJECT_VERSION") or "",
        environment=text("environment", "ENVIRONMENT") or "",
        service_name=str(args.get("service_name") or project_name),
        backend=backend,
        endpoint=_url(text("endpoint", "ENDPOINT") or _stack_url(env, stack, "OTLP_PORT", "/v1/traces", scheme) or _scheme(DEFAULTS["endpoint"], scheme), "endpoint"),
        clickhouse_endpoint=_url(text("clickhouse_endpoint", "CLICKHOUSE_ENDPOINT") or _stack_url(env, stack, "CLICKHOUSE_PORT", "", scheme) or _scheme(DEFAULTS["clickhouse_endpoint"], scheme), "clickhouse_endpoint"),
        clickhouse_database=_identifier(text("clickhouse_database", "CLICKHOUSE_DATABASE") or DEFAULTS["clickhouse_database"], "clickhouse_database"),
        clickhouse_table=_identifier(text("clickhouse_table", "CLICKHOUSE_TABLE") or DEFAULTS["clickhouse_table"], "clickhouse_table"),
        clickhouse_username=username or DEFAULTS["clickhouse_username"],
        clickhouse_password=password,
        batch_size=int(number("batch_size", "CLICKHOUSE_BATCH_SIZE", DEFAULTS["batch_size"], 1, True) if batch is None else _checked(batch, "batch_size", 1)),
        timeout=number("timeout", "TIMEOUT_MS", DEFAULTS["timeout"], 0.001, False, scale=1000.0),
        max_retries=int(number("max_retries", "MAX_RETRIES", DEFAULTS["max_retries"], 0, True)),
        compression_enabled=flag("compression_enabled", "COMPRESSION", DEFAULTS["compression_enabled"]),
        flush_interval=number("flush_interval", "FLUSH_INTERVAL_MS", DEFAULTS["flush_interval"], 0.001, False, scale=1000.0),
        max_queue_size=int(number("max_queue_size", "MAX_QUEUE_SIZE", DEFAULTS["max_queue_size"], 1, True)),
        enabled=_enabled(args.get("enabled"), env.get(PREFIX + "ENABLED")),
        scrub=scrub,
        identify=identify,
        headers=headers,
        ca_file=ca_file,
    )


def stack_tls_ca(home: str) -> Optional[str]:
    """The CA of a home that `start --tls` recorded (<home>/run/stack.json): certs/ca.crt, else the user's server.crt."""
    try:
        with open(os.path.join(home, "run", "stack.json"), encoding="utf-8") as f:
            if json.load(f).get("tls") is not True:
                return None
    except (OSError, ValueError, AttributeError):
        return None
    ca = os.path.join(home, "certs", "ca.crt")
    server = os.path.join(home, "certs", "server.crt")
    return server if not os.path.isfile(ca) and os.path.isfile(server) else ca


def _scheme(url: str, scheme: str) -> str:
    return re.sub(r"^http:", scheme + ":", url)


def _stack_url(env: Mapping[str, str], stack: Mapping[str, str], port_name: str, path: str, scheme: str = "http") -> Optional[str]:
    """The stack's endpoint when its host or port was moved from the default (by variable or in <home>/.env)."""
    port = env.get(PREFIX + port_name) or stack.get(PREFIX + port_name)
    host = env.get(PREFIX + "HOST") or stack.get(PREFIX + "HOST")
    if not port and not host:
        return None
    if host in (None, "", "0.0.0.0", "::"):
        host = "127.0.0.1" if host else "localhost"  # a wildcard bind is reached on loopback
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host
    default_port = "4318" if port_name == "OTLP_PORT" else "8123"
    return "%s://%s:%s%s" % (scheme, host, port or default_port, path)


def _enabled(value: object, raw: Optional[str]) -> bool:
    """As in the TypeScript SDK: on unless told false (the variable says 'false' or '0')."""
    if value is not None:
        return bool(value)
    return not (raw is not None and raw.strip().lower() in ("false", "0", "no", "off"))


def _checked(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError("%s must be a whole number >= %d, got %r" % (name, minimum, value))
    return value


def _url(value: str, name: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError("%s must be an http(s) URL, got %r" % (name, value))
    return value.rstrip("/")


def _identifier(value: str, name: str) -> str:
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
        raise ConfigError("%s must be a plain identifier, got %r" % (name, value))
    return value


OnError = Callable[[BaseException], None]
