from __future__ import annotations

import email.utils

import pytest

from langchain_cloudflare_playground.client.errors import (
    AuthenticationError,
    BadRequestError,
    ChallengeError,
    NotFoundError,
    PermissionDeniedError,
    PlaygroundConnectionError,
    PlaygroundError,
    PlaygroundStatusError,
    PlaygroundTimeoutError,
    RateLimitError,
    ServerError,
    WebSocketClosedError,
    make_status_error,
    make_stream_error,
    parse_retry_after,
)
from langchain_cloudflare_playground.client.retries import RetryPolicy

CHALLENGE = "<html><head><title>Just a moment...</title></head></html>"


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (400, '{"error":"bad"}', BadRequestError),
        (401, "", AuthenticationError),
        (403, "forbidden", PermissionDeniedError),
        (403, CHALLENGE, ChallengeError),
        (503, "<title>Attention Required! | Cloudflare</title>", ChallengeError),
        (404, "", NotFoundError),
        (429, "", RateLimitError),
        (500, "", ServerError),
        (502, "", ServerError),
        (503, "down", ServerError),
        (504, "", ServerError),
        (418, "", PlaygroundStatusError),
    ],
)
def test_status_errors_map_to_their_class(status, body, cls):
    error = make_status_error(status, body, {})
    assert type(error) is cls
    assert error.status == status
    assert isinstance(error, PlaygroundError)


def test_challenge_error_says_what_to_do():
    error = make_status_error(403, CHALLENGE, {"Content-Type": "text/html"})
    assert "cloudflare-playground[browser]" in str(error)
    assert "CHROME_PATH" in str(error)


def test_status_error_quotes_a_json_body_but_not_html():
    assert "quota exceeded" in str(make_status_error(400, '{"error":"quota exceeded"}', {}))
    html = make_status_error(500, "<html>oops</html>", {"Content-Type": "text/html"})
    assert "<html>" not in str(html)


def test_stream_errors_map_rate_limits():
    assert isinstance(make_stream_error("3021: rate limiting"), RateLimitError)
    assert isinstance(make_stream_error("The model is rate limited"), RateLimitError)
    assert not isinstance(make_stream_error("5007: No such model"), RateLimitError)


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (make_status_error(408, "", {}), True),
        (make_status_error(409, "", {}), True),
        (make_status_error(429, "", {}), True),
        (make_status_error(500, "", {}), True),
        (make_status_error(503, "", {}), True),
        (make_status_error(403, CHALLENGE, {}), False),  # a fresh session instead (the client)
        (PlaygroundConnectionError("refused"), True),
        (PlaygroundTimeoutError("slow"), True),
        (make_stream_error("3021: rate limiting"), True),
        (make_status_error(400, "", {}), False),
        (make_status_error(401, "", {}), False),
        (make_status_error(403, "no", {}), False),
        (make_status_error(404, "", {}), False),
        (make_stream_error("5007: No such model"), False),
        (ValueError("not ours"), False),
    ],
)
def test_what_is_retried(error, retry):
    assert RetryPolicy(max_retries=2).should_retry(error, 0) is retry


def test_retries_stop_at_max_retries():
    policy = RetryPolicy(max_retries=2)
    error = make_status_error(500, "", {})
    assert policy.should_retry(error, 1)
    assert not policy.should_retry(error, 2)
    assert not RetryPolicy(max_retries=0).should_retry(error, 0)


def test_backoff_grows_with_jitter_and_is_capped():
    policy = RetryPolicy(initial_delay=0.5, max_delay=8)
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (10, 8.0)]:
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(0.75 * ceiling <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


def test_retry_after_wins_and_is_capped():
    policy = RetryPolicy(max_retry_after=60)
    assert policy.delay(0, retry_after=3) == 3
    assert policy.delay(0, retry_after=0) == 0
    assert policy.delay(0, retry_after=86_400) == 60


def test_parse_retry_after_seconds_date_and_millis():
    now = 1_800_000_000.0
    assert parse_retry_after({"retry-after": "7"}, now) == 7
    assert parse_retry_after({"retry-after": "1.5"}, now) == 1.5
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now) == 30
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after({"retry-after": past}, now) == 0
    assert parse_retry_after({"retry-after-ms": "250"}, now) == 0.25
    assert parse_retry_after({"retry-after": "soon"}, now) is None
    assert parse_retry_after({}, now) is None


@pytest.mark.parametrize(
    "error",
    [
        PlaygroundConnectionError("the connection dropped"),
        PlaygroundTimeoutError("no data"),
        WebSocketClosedError("closed (code 1006)", 1006),
    ],
)
def test_a_request_the_server_holds_is_never_retried(error):
    assert RetryPolicy(max_retries=2).should_retry(error, 0)
    error.request_delivered = True  # the room of a dropped reply stored the request
    assert not RetryPolicy(max_retries=2).should_retry(error, 0)


@pytest.mark.parametrize(
    ("code", "answer"),
    [
        (None, False),
        (1000, False),
        (1001, False),
        (1006, False),
        (1011, False),
        (1012, False),
        (1002, True),
        (1008, True),
        (1009, True),
        (4000, True),
        (4999, True),
        (5000, False),
    ],
)
def test_which_close_codes_answer(code, answer):
    assert WebSocketClosedError("closed", code).is_answer is answer
