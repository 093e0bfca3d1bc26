"""Fixtures: the real embedded engine started through the CLI, a capture server, and the shared test vectors."""

import base64
import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python", "src"))
CLI = os.path.join(ROOT, "dist", "bin", "automagik-telemetry.js")
VECTORS = os.path.join(ROOT, "test-vectors", "sdk-vectors.json")


def need(condition: bool, what: str) -> None:
    """Under CI=true a missing prerequisite fails; elsewhere the test skips loudly."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail("%s (CI must provide it)" % what)
    print("\n!!! SKIPPING: %s\n" % what, file=sys.stderr)
    pytest.skip(what)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_vectors():
    with open(VECTORS, encoding="utf-8") as handle:
        return json.load(handle)


class Engine:
    def __init__(self):
        self.home = tempfile.mkdtemp(prefix="amt-py-")
        self.env = dict(
            os.environ,
            AUTOMAGIK_TELEMETRY_HOME=self.home,
            AUTOMAGIK_TELEMETRY_ENGINE="embedded",
            AUTOMAGIK_TELEMETRY_CLICKHOUSE_PORT=str(free_port()),
            AUTOMAGIK_TELEMETRY_OTLP_PORT=str(free_port()),
            AUTOMAGIK_TELEMETRY_DASHBOARD_PORT=str(free_port()),
        )
        for key in ("AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME", "AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD", "DO_NOT_TRACK"):
            self.env.pop(key, None)

    def cli(self, *args: str) -> str:
        done = subprocess.run(["node", CLI, *args], env=self.env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError("automagik-telemetry %s failed (%d): %s%s" % (" ".join(args), done.returncode, done.stdout, done.stderr))
        return done.stdout

    def start(self) -> None:
        self.cli("start")
        self.ingest = json.loads(self.cli("env", "--json"))
        self.admin = json.loads(self.cli("env", "--role", "admin", "--json"))
        self.clickhouse = self.ingest["AUTOMAGIK_TELEMETRY_CLICKHOUSE_ENDPOINT"]
        self.otlp_traces = self.ingest["AUTOMAGIK_TELEMETRY_ENDPOINT"]

    def stop(self) -> None:
        try:
            self.cli("stop")
        except Exception as error:  # noqa: BLE001
            print("stop failed: %s" % error, file=sys.stderr)
        shutil.rmtree(self.home, ignore_errors=True)

    def sdk_env(self, **extra: str) -> dict:
        """The environment an app started after `eval "$(automagik-telemetry env)"` sees."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOMAGIK_TELEMETRY_") and k != "DO_NOT_TRACK"}
        env.update(self.ingest)
        env.update(extra)
        return env

    def query(self, sql: str) -> list:
        """Rows as dicts, read back as the admin role."""
        auth = base64.b64encode(("%s:%s" % (self.admin["AUTOMAGIK_TELEMETRY_CLICKHOUSE_USERNAME"], self.admin["AUTOMAGIK_TELEMETRY_CLICKHOUSE_PASSWORD"])).encode()).decode()
        request = urllib.request.Request(self.clickhouse + "/", data=(sql + " FORMAT JSONEachRow").encode(), headers={"Authorization": "Basic " + auth})
        with urllib.request.urlopen(request, timeout=30) as response:
            return [json.loads(line) for line in response.read().decode().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def engine():
    need(shutil.which("node") is not None, "node is not installed")
    need(os.path.exists(CLI), "dist/ is not built: run `npm run build`")
    stack = Engine()
    try:
        stack.start()
    except Exception:
        stack.stop()
        raise
    yield stack
    stack.stop()


class Capture:
    """A real HTTP server that records every request (path, query, headers, gunzipped body) and counts connections.

    `script` is a list of statuses answered first (with Retry-After when given as (status, seconds)); then 200, or
    forwarding to `forward_to` when set (a faulty proxy in front of the real engine).
    """

    def __init__(self):
        self.requests = []
        self.connections = 0
        self.script = []
        self.forward_to = None
        self.reply = b"{}"
        capture = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                capture.connections += 1
                super().setup()

            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
                capture.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if capture.script:
                    step = capture.script.pop(0)
                    status, retry_after = step if isinstance(step, tuple) else (step, None)
                    self.send_response(status)
                    if retry_after is not None:
                        self.send_header("Retry-After", str(retry_after))
                    self.send_header("Content-Length", "4")
                    self.end_headers()
                    self.wfile.write(b"busy")
                    return
                if capture.forward_to:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
                    request = urllib.request.Request(capture.forward_to + self.path, data=raw, headers=headers, method="POST")
                    try:
                        with urllib.request.urlopen(request, timeout=30) as response:
                            status, payload = response.status, response.read()
                    except urllib.error.HTTPError as error:
                        status, payload = error.code, error.read()
                else:
                    status, payload = 200, capture.reply
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def json_bodies(self):
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
def capture():
    server = Capture()
    yield server
    server.close()


@pytest.fixture
def isolated_env(tmp_path):
    """An environment with a temp HOME and no telemetry variables: nothing of this machine leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOMAGIK_TELEMETRY_") and k != "DO_NOT_TRACK"}
    env["HOME"] = str(tmp_path / "home")
    env["AUTOMAGIK_TELEMETRY_HOME"] = str(tmp_path / "stack")
    os.makedirs(env["HOME"])
    return env
