"""Nothing lost, nothing doubled, never an exception: retries through a faulty proxy, the store down, exit, threads."""

import os
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from automagik_telemetry import AutomagikTelemetry
from conftest import ROOT, Capture, free_port


def count(engine, run_id):
    return engine.query("SELECT count() AS n FROM telemetry.traces WHERE attributes['run'] = '%s'" % run_id)[0]["n"]


@pytest.mark.parametrize("backend", ["clickhouse", "otlp"])
def test_503_then_forwarded_is_retried_and_stored_once(engine, capture, backend):
    # The proxy answers 503 twice (once with Retry-After: 1), then forwards to the real engine.
    capture.script = [503, (503, 1)]
    target = engine.clickhouse if backend == "clickhouse" else engine.otlp_traces.rsplit("/v1/traces", 1)[0]
    capture.forward_to = target
    endpoint = {"clickhouse_endpoint": capture.url} if backend == "clickhouse" else {"endpoint": capture.url + "/v1/traces"}
    client = AutomagikTelemetry(project_name="proxied", backend=backend, env=engine.sdk_env(), **endpoint)
    run_id = uuid.uuid4().hex
    for i in range(5):
        client.track_event("proxied.event", {"run": run_id, "i": i})
    started = time.monotonic()
    assert client.flush(20) is True
    waited = time.monotonic() - started
    stats = client.stats()
    client.shutdown()
    assert (stats["sent"], stats["retried"], stats["failed"], stats["queued"]) == (5, 2, 0, 0)
    assert waited >= 1.0, "Retry-After: 1 was honoured"
    assert len(capture.requests) == 3
    assert len({r["body"] for r in capture.requests}) == 1, "every attempt sent the same bytes"
    assert all(r["headers"].get("Content-Encoding") == "gzip" for r in capture.requests)
    if backend == "clickhouse":
        tokens = {parse_qs(urlsplit(r["path"]).query)["insert_deduplication_token"][0] for r in capture.requests}
        assert len(tokens) == 1, "one dedup token for the batch, kept across its retries"
    assert count(engine, run_id) == 5


def test_a_retried_batch_the_store_already_holds_is_not_stored_twice(engine, capture):
    # The store takes the insert but the answer is lost (the proxy answers 502 after forwarding): the retry carries
    # the same dedup token, and ClickHouse keeps one copy.
    capture.forward_to = engine.clickhouse
    client = AutomagikTelemetry(project_name="dedup", backend="clickhouse", clickhouse_endpoint=capture.url, env=engine.sdk_env())
    run_id = uuid.uuid4().hex
    for i in range(4):
        client.track_event("dedup.event", {"run": run_id, "i": i})
    client.flush(0)  # tries once, with the proxy forwarding
    first = capture.requests[0]
    assert count(engine, run_id) == 4
    # Replay the exact first request (same token) as a retry would: still 4 rows.
    import urllib.request
    headers = {k: v for k, v in first["headers"].items() if k.lower() in ("authorization", "content-type")}
    urllib.request.urlopen(urllib.request.Request(engine.clickhouse + first["path"], data=first["body"], headers=headers, method="POST"), timeout=10).read()
    assert count(engine, run_id) == 4
    client.shutdown()


def test_store_down_bounded_memory_no_exception_then_delivered(engine):
    # Nothing listens on the port yet: the store is down.
    port = free_port()
    url = "http://127.0.0.1:%d" % port
    errors = []
    client = AutomagikTelemetry(project_name="outage", backend="clickhouse", clickhouse_endpoint=url, max_queue_size=500, batch_size=50,
                                max_retries=1, flush_interval=0.05, on_error=errors.append, env=engine.sdk_env())
    run_id = uuid.uuid4().hex
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(5000):
        client.track_event("outage.event", {"run": run_id, "i": i})
    client.flush(1)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    stats = client.stats()
    assert stats["queued"] <= 500
    assert stats["dropped"] >= 4500
    assert stats["queued"] + stats["dropped"] == 5000
    assert grown < 2_000_000, "memory held while the store is down is bounded by max_queue_size (grew %d bytes)" % grown
    assert any("cannot reach" in str(e) for e in errors)

    # The store comes back on that port (a proxy to the engine): what is held is delivered, the newest 500.
    proxy = Capture.__new__(Capture)
    Capture.__init__(proxy)
    proxy.server.server_close()
    from http.server import ThreadingHTTPServer
    proxy.server = ThreadingHTTPServer(("127.0.0.1", port), proxy.server.RequestHandlerClass)
    proxy.forward_to = engine.clickhouse
    threading.Thread(target=proxy.server.serve_forever, daemon=True).start()
    try:
        assert client.flush(20) is True
        assert count(engine, run_id) == stats["queued"]
        kept = engine.query("SELECT min(toUInt32(attributes['i'])) AS lo, max(toUInt32(attributes['i'])) AS hi FROM telemetry.traces WHERE attributes['run'] = '%s'" % run_id)[0]
        assert kept["hi"] == 4999, "the newest events were kept, the oldest dropped"
    finally:
        client.shutdown()
        proxy.close()


def test_an_app_that_tracks_and_exits_delivers_at_exit(engine):
    run_id = uuid.uuid4().hex
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, %r)
        from automagik_telemetry import AutomagikTelemetry
        client = AutomagikTelemetry(project_name="exiting", backend=sys.argv[1], flush_interval=3600)
        for i in range(3):
            client.track_event("exit.event", {"run": sys.argv[2], "i": i})
        # no flush(): the atexit hook sends
    """ % os.path.join(ROOT, "python", "src"))
    for backend in ("clickhouse", "otlp"):
        done = subprocess.run([sys.executable, "-c", script, backend, run_id], env=engine.sdk_env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
    assert count(engine, run_id) == 6


def test_sigterm_flushes_when_the_app_opts_in(engine):
    run_id = uuid.uuid4().hex
    script = textwrap.dedent("""
        import sys, time
        sys.path.insert(0, %r)
        from automagik_telemetry import AutomagikTelemetry
        client = AutomagikTelemetry(project_name="terminated", backend="clickhouse", flush_interval=3600)
        client.install_signal_handlers()
        client.track_event("sigterm.event", {"run": sys.argv[1]})
        print("ready", flush=True)
        time.sleep(60)
    """ % os.path.join(ROOT, "python", "src"))
    process = subprocess.Popen([sys.executable, "-c", script, run_id], env=engine.sdk_env(), stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    process.terminate()
    assert process.wait(30) == -15, "the process still ends by SIGTERM"
    assert count(engine, run_id) == 1


def test_threads_tracking_at_once_lose_and_double_nothing(engine):
    client = AutomagikTelemetry(project_name="threads", backend="clickhouse", batch_size=37, flush_interval=0.05, env=engine.sdk_env())
    run_id = uuid.uuid4().hex
    failures = []

    def worker(n):
        try:
            for i in range(250):
                client.track_event("thread.event", {"run": run_id, "key": "%d-%d" % (n, i)})
        except Exception as error:  # noqa: BLE001
            failures.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.flush(30) is True
    stats = client.stats()
    client.shutdown()
    assert failures == []
    assert stats["dropped"] == 0 and stats["failed"] == 0
    rows = engine.query("SELECT count() AS n, uniqExact(attributes['key']) AS keys FROM telemetry.traces WHERE attributes['run'] = '%s'" % run_id)[0]
    assert (rows["n"], rows["keys"]) == (2000, 2000)


def test_a_flush_does_not_wait_out_a_background_retry_after(capture, isolated_env):
    # The background sender meets 503 with Retry-After: 20 and waits; the app's flush goes at once instead.
    capture.script = [(503, 20)]
    client = AutomagikTelemetry(project_name="eager", endpoint=capture.url + "/v1/traces", batch_size=2, env=isolated_env)
    client.track_event("a")
    client.track_event("b")  # a full batch: the background sender takes it
    deadline = time.monotonic() + 5
    while len(capture.requests) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    assert client.flush(10) is True
    assert time.monotonic() - started < 5
    stats = client.stats()
    client.shutdown()
    assert (stats["sent"], stats["dropped"], stats["failed"]) == (2, 0, 0)
    assert len(capture.requests) == 2 and capture.requests[0]["body"] == capture.requests[1]["body"]


def test_while_the_store_is_down_full_batches_do_not_hammer_it(isolated_env):
    # A server that refuses every request with 503 (no Retry-After) and counts them.
    down = Capture()
    down.script = [503] * 10_000
    try:
        client = AutomagikTelemetry(project_name="patient", endpoint=down.url + "/v1/traces", batch_size=5, max_retries=0,
                                    flush_interval=0.5, env=isolated_env)
        for i in range(2000):
            client.track_event("e", {"i": i})
            if i % 100 == 0:
                time.sleep(0.01)
        time.sleep(1.2)
        attempts = len(down.requests)
        stats = client.stats()
        client._processor._queue.clear()
        client._processor._pending.clear()
        client.shutdown(0)
    finally:
        down.close()
    assert stats["sent"] == 0 and stats["queued"] > 0
    # One attempt when the first batch filled, then one per flush interval: a handful, not hundreds.
    assert 1 <= attempts <= 8, attempts


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_sends_with_its_own_sender(capture, isolated_env):
    client = AutomagikTelemetry(project_name="forked", endpoint=capture.url + "/v1/traces", batch_size=1, env=isolated_env)
    pid = os.fork()
    if pid == 0:  # the child: no flush, its sender thread must send the full batch
        try:
            client.track_event("from.child")
            deadline = time.monotonic() + 5
            while client.stats()["sent"] < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            os._exit(0 if client.stats()["sent"] == 1 else 1)
    _, status = os.waitpid(pid, 0)
    client.shutdown(1)
    assert os.WEXITSTATUS(status) == 0
    names = [s["name"] for body in capture.json_bodies() for rs in body["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    assert names == ["from.child"]


def test_a_proxy_in_the_environment_does_not_catch_the_local_stack(capture, isolated_env):
    # An app started with HTTP_PROXY set (nothing listens at the proxy): the local stack is still reached directly.
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, %r)
        from automagik_telemetry import AutomagikTelemetry
        client = AutomagikTelemetry(project_name="proxied-env", endpoint=sys.argv[1] + "/v1/traces", max_retries=0)
        client.track_event("direct")
        sys.exit(0 if client.flush(5) and client.stats()["sent"] == 1 else 1)
    """ % os.path.join(ROOT, "python", "src"))
    env = dict(isolated_env, HTTP_PROXY="http://127.0.0.1:9", http_proxy="http://127.0.0.1:9", NO_PROXY="", no_proxy="")
    done = subprocess.run([sys.executable, "-c", script, capture.url], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(capture.requests) == 1


def test_a_header_that_cannot_be_sent_fails_once_not_forever(capture, isolated_env):
    errors = []
    client = AutomagikTelemetry(project_name="bad-header", endpoint=capture.url + "/v1/traces", headers={"x-bad": "a\r\nInjected: 1"},
                                on_error=errors.append, env=isolated_env)
    client.track_event("e")
    client.flush(5)
    stats = client.stats()
    client.shutdown()
    assert (stats["failed"], stats["retried"], stats["queued"]) == (1, 0, 0)
    assert capture.requests == []
    assert any("cannot send to" in str(e) for e in errors)


def test_sigterm_in_the_middle_of_tracking_flushes_and_ends_the_process(capture, isolated_env):
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, %r)
        from automagik_telemetry import AutomagikTelemetry
        client = AutomagikTelemetry(project_name="busy", endpoint=sys.argv[1] + "/v1/traces", batch_size=1000, flush_interval=3600)
        client.install_signal_handlers()
        print("ready", flush=True)
        i = 0
        while True:
            client.track_event("busy.event", {"i": i})
            i += 1
    """ % os.path.join(ROOT, "python", "src"))
    process = subprocess.Popen([sys.executable, "-c", script, capture.url], env=isolated_env, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    process.terminate()
    try:
        code = process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError("the process hung on SIGTERM")
    assert code == -15
    assert len(capture.requests) >= 1, "what was queued at SIGTERM was sent"
