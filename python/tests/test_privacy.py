"""Consent and privacy: the user's opt-outs send nothing at all, the shared anonymous id, PII scrubbing on by default."""

import json
import os
import re

import pytest

from automagik_telemetry import AutomagikTelemetry
from automagik_telemetry._privacy import Scrubber


def tracked_everything(client):
    client.track_event("e", {"a": 1})
    client.track_error(ValueError("x"))
    client.track_metric("m", 1)
    client.track_log("l")
    client.flush(2)
    client.shutdown(1)


@pytest.mark.parametrize("opt_out", ["AUTOMAGIK_TELEMETRY_ENABLED=false", "DO_NOT_TRACK=1", "file"])
@pytest.mark.parametrize("backend", ["otlp", "clickhouse"])
def test_the_users_opt_out_sends_nothing_and_opens_no_connection(capture, isolated_env, opt_out, backend):
    env = dict(isolated_env)
    if opt_out == "file":
        open(os.path.join(env["HOME"], ".automagik-no-telemetry"), "w").close()
    else:
        key, value = opt_out.split("=")
        env[key] = value
    # The app's code says enabled=True: the user's opt-out still wins.
    client = AutomagikTelemetry(project_name="consent", backend=backend, endpoint=capture.url + "/v1/traces", clickhouse_endpoint=capture.url, enabled=True, env=env)
    assert client.enabled is False
    tracked_everything(client)
    assert capture.connections == 0
    assert capture.requests == []
    assert not os.path.exists(os.path.join(env["HOME"], ".automagik")), "an opted-out SDK writes nothing either"


def test_without_an_opt_out_the_same_calls_are_sent(capture, isolated_env):
    client = AutomagikTelemetry(project_name="consent", endpoint=capture.url + "/v1/traces", env=isolated_env)
    tracked_everything(client)
    assert sorted(r["path"] for r in capture.requests) == ["/v1/logs", "/v1/metrics", "/v1/traces"]


def test_the_anonymous_id_is_shared_and_sent_only_when_the_app_opts_in(capture, isolated_env):
    plain = AutomagikTelemetry(project_name="one", endpoint=capture.url + "/v1/traces", env=isolated_env)
    plain.track_event("no.id")
    plain.shutdown(5)
    body = capture.json_bodies()[0]
    assert "user.id" not in json.dumps(body)

    first = AutomagikTelemetry(project_name="one", endpoint=capture.url + "/v1/traces", identify="anonymous", env=isolated_env)
    second = AutomagikTelemetry(project_name="two", endpoint=capture.url + "/v1/traces", identify="anonymous", env=isolated_env)
    for client in (first, second):
        client.track_event("with.id")
        client.shutdown(5)
    with open(os.path.join(isolated_env["HOME"], ".automagik", "user_id")) as handle:
        stored = handle.read().strip()
    assert re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$", stored)
    ids = []
    for body in capture.json_bodies()[1:]:
        attrs = {a["key"]: a["value"]["stringValue"] for a in body["resourceSpans"][0]["resource"]["attributes"]}
        ids.append(attrs["user.id"])
    assert ids == [stored, stored]


PII = [
    ("write to bob.smith+tag@example.co.uk now", "write to [email] now"),
    ("call +1 (415) 555-0132 today", "call [phone] today"),
    ("call 415-555-0132 today", "call [phone] today"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abcdefghij.klmnopqrst", "Authorization: Bearer [secret]"),
    ("key sk-proj-abcdefghijklmnopqrstuvwxyz123456", "key [secret]"),
    ("api_key=abcd1234efgh5678", "api_key=[secret]"),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token [secret]"),
    ("paid with 4111 1111 1111 1111", "paid with [card]"),
    ("paid with 4111-1111-1111-1111.", "paid with [card]."),
    ("from 192.168.10.25:8080", "from [ip]:8080"),
    ("from 2001:db8::8a2e:370:7334 ok", "from [ip] ok"),
    ("open /home/alice/projects/x.py", "open [path]/projects/x.py"),
    ("open /Users/alice/x.py", "open [path]/x.py"),
]

UNTOUCHED = [
    "order 12345 shipped in 3 boxes",
    "version 1.4.2 released 2026-01-02 10:30:00",
    "4111 1111 1111 1112 is not a valid card",
    "took 1234567 ms",
    "ratio 3:4 and time 10:30",
    "see /usr/lib/python3 and /var/log",
    "an ordinary sentence with no secrets at all",
]


@pytest.mark.parametrize("text,expected", PII)
def test_each_kind_of_pii_is_redacted(text, expected):
    assert Scrubber("redact", lambda: "k")(text) == expected


@pytest.mark.parametrize("text", UNTOUCHED)
def test_ordinary_text_is_left_alone(text):
    assert Scrubber("redact", lambda: "k")(text) == text


def test_hash_mode_gives_a_stable_keyed_mark_and_off_keeps_the_value():
    one = Scrubber("hash", lambda: "install-a")
    other = Scrubber("hash", lambda: "install-b")
    a = one("mail bob@example.com")
    assert re.match(r"^mail \[email:[0-9a-f]{12}\]$", a)
    assert one("mail bob@example.com") == a
    assert other("mail bob@example.com") != a
    assert Scrubber("off", lambda: "k")("mail bob@example.com") == "mail bob@example.com"


def test_scrubbing_is_on_by_default_for_attributes_error_messages_and_log_bodies(capture, isolated_env):
    client = AutomagikTelemetry(project_name="private", endpoint=capture.url + "/v1/traces", env=isolated_env)
    client.track_event("signup", {"email": "eve@example.org", "plan": "pro"})
    client.track_error(RuntimeError("cannot mail eve@example.org from 10.1.2.3"))
    client.track_log("user eve@example.org logged in", attributes={"card": "4111111111111111"})
    client.shutdown(5)
    sent = json.dumps(capture.json_bodies())
    assert "eve@example.org" not in sent and "10.1.2.3" not in sent and "4111111111111111" not in sent
    assert '"[email]"' in sent and "cannot mail [email] from [ip]" in sent and "user [email] logged in" in sent and '"[card]"' in sent
    assert '"pro"' in sent


def test_scrub_off_sends_values_as_given(capture, isolated_env):
    client = AutomagikTelemetry(project_name="raw", endpoint=capture.url + "/v1/traces", scrub="off", env=isolated_env)
    client.track_event("signup", {"email": "eve@example.org"})
    client.shutdown(5)
    assert "eve@example.org" in json.dumps(capture.json_bodies())
