"""``cf-playground serve`` in raw HTTP, for what SDKs hide: the SSE bytes, headers, error bodies.

``httpx`` (which the ``openai`` SDK is built on) speaks to a real ``cf-playground serve``
subprocess; safety defaults (the key, the bind address, CORS, the body limit, the log) are
checked as a user would meet them.
"""

from __future__ import annotations

import json
import os
import subprocess

import httpx
import pytest

from tests.helpers import CLI
from tests.reference_server import Fault
from tests.serve_process import ServeProcess

CHAT = {"model": "llama-3.3-70b", "messages": [{"role": "user", "content": "bytes"}]}


@pytest.fixture
def http(served_http):
    with httpx.Client(base_url=served_http.url, timeout=30) as client:
        yield client


def test_the_stream_is_server_sent_events_ending_in_done(http, upstream):
    with http.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"
        assert "content-length" not in response.headers
        body = response.read().decode()
    assert body.endswith("data: [DONE]\n\n")
    events = body.split("\n\n")
    assert events[-1] == ""
    payloads = [event.removeprefix("data: ") for event in events[:-2]]
    assert all(event.startswith("data: {") for event in events[:-2])
    chunks = [json.loads(payload) for payload in payloads]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert all("usage" not in chunk for chunk in chunks)  # not asked for


def test_a_whole_reply_is_json(http):
    response = http.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["choices"][0]["message"]["content"].startswith("Echo: bytes")


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/v1/chat/completions", b"{not json", 400),
        ("POST", "/v1/chat/completions", b'{"model": "llama-3.3-70b"}', 400),
        ("POST", "/v1/chat/completions", b'{"model": 7, "messages": []}', 400),
        ("POST", "/v1/embeddings", b"{}", 404),
        ("GET", "/v1/chat/completions", None, 405),
    ],
    ids=["not JSON", "no messages", "a model that is no name", "no such route", "wrong method"],
)
def test_errors_are_in_openais_shape(http, method, path, body, status):
    response = http.request(method, path, content=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    assert "Traceback" not in response.text


def test_a_request_without_a_model_runs_on_the_servers_default(upstream):
    args = ("--base-url", upstream.url, "--wire-format", "http", "--model", "qwq-32b")
    with ServeProcess(*args) as served, httpx.Client(base_url=served.url) as http:
        response = http.post("/v1/chat/completions", json={"messages": CHAT["messages"]})
    assert response.json()["model"] == "@cf/qwen/qwq-32b"


def test_health(http):
    response = http.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["conversations"]["in_flight"] == 0


def test_the_key_guards_v1_and_not_health(upstream):
    args = ("--base-url", upstream.url, "--wire-format", "http", "--api-key", "k-9d3e")
    with ServeProcess(*args) as served, httpx.Client(base_url=served.url) as http:
        assert http.get("/health").status_code == 200
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "k-9d3e"}):
            refused = http.get("/v1/models", headers=headers)
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "invalid_api_key"
        assert http.get("/v1/models", headers={"Authorization": "Bearer k-9d3e"}).is_success


def test_a_body_over_the_limit_is_a_413(upstream):
    args = ("--base-url", upstream.url, "--wire-format", "http", "--max-body-bytes", "2000")
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 5000}]}
    with ServeProcess(*args) as served, httpx.Client(base_url=served.url) as http:
        response = http.post("/v1/chat/completions", json=big)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "request_too_large"
        assert http.post("/v1/chat/completions", json=CHAT).is_success
    assert upstream.inference_requests[-1].json["messages"][-1]["content"] == "bytes"


def test_no_cors_unless_origins_are_named(upstream, served_http):
    preflight = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    with httpx.Client(base_url=served_http.url) as http:
        response = http.options("/v1/chat/completions", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
        plain = http.get("/v1/models", headers={"Origin": "https://app.example"})
        assert "access-control-allow-origin" not in plain.headers
    args = ("--base-url", upstream.url, "--cors-origin", "https://app.example")
    with ServeProcess(*args) as served, httpx.Client(base_url=served.url) as http:
        allowed = http.options("/v1/chat/completions", headers=preflight)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        other = http.options(
            "/v1/chat/completions", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.com"])
def test_refuses_to_listen_beyond_loopback_without_a_key(host):
    result = subprocess.run(
        [CLI, "serve", "--host", host, "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "CF_PLAYGROUND_API_KEY"},
    )
    assert result.returncode == 2
    assert "without an API key" in result.stderr
    assert "listening" not in result.stdout


def test_the_log_holds_no_body_and_no_key(upstream):
    args = ("--base-url", upstream.url, "--api-key", "key-7c1b")
    secret = "my secret message 5e0a"
    with ServeProcess(*args) as served, httpx.Client(base_url=served.url) as http:
        headers = {"Authorization": "Bearer key-7c1b"}
        request = {"model": "llama-3.3-70b", "messages": [{"role": "user", "content": secret}]}
        assert http.post("/v1/chat/completions", json=request, headers=headers).is_success
        assert (
            http.post("/v1/chat/completions", json={**request, "n": 3}, headers=headers).status_code
            == 400
        )
        upstream.push(*[Fault(status=500)] * 3)
        assert http.post("/v1/chat/completions", json=request, headers=headers).status_code == 502
    assert '"POST /v1/chat/completions HTTP/1.1" 200' in served.text
    assert '"POST /v1/chat/completions HTTP/1.1" 502' in served.text
    assert secret not in served.text
    assert "key-7c1b" not in served.text
