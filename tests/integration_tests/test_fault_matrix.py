"""The fault matrix: what each failure of a server becomes, exactly, in every wire format.

Each case names a fault, injected by a real server on loopback (the reference server for the HTTP
wire formats and for WebSocket faults the SDK cannot make, the real Agents SDK server in workerd for
the rest), and the outcome: the reply (after how many requests), or the typed error with the words
it must say and the partial text it must carry. It is the one place for what is retried, how many
times, after how long a wait (``Retry-After`` in seconds and as a date, capped) and what the
error carries when retries run out, end to end; ``tests/unit_tests/test_retry_and_errors.py``
checks ``RetryPolicy`` and ``parse_retry_after`` on their own, with no server and no waiting. The
browser path's faults are in
``test_browser_sessions.py`` (missing executable, a browser that exits, a challenge that never
clears, cancellation during acquisition), with Chromium processes counted after each.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from langchain_cloudflare_playground.client import (
    AuthenticationError,
    BadRequestError,
    ChallengeError,
    NotFoundError,
    PermissionDeniedError,
    PlaygroundAPIError,
    PlaygroundClient,
    PlaygroundConnectionError,
    PlaygroundError,
    PlaygroundProtocolError,
    PlaygroundStreamError,
    PlaygroundTimeoutError,
    RateLimitError,
    ServerError,
    TextDelta,
)
from tests.cutting_proxy import Cut, CuttingProxy
from tests.helpers import client_sockets_to, settled
from tests.reference_server import Fault, ReferenceServer, free_port

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from tests.scripted_model import HttpWireFormatName

REPLY = ["one ", "two ", "three ", "four"]


@dataclass(frozen=True)
class Outcome:
    """What the caller must see.

    ``error`` None means the reply arrives whole; ``says`` is a fragment of the error's message;
    ``partial`` the text a stream error carries; ``requests`` how many reached the server;
    ``status`` and ``retry_after`` the error's attributes; ``waited`` the bounds, in seconds, of
    how long the whole call took; ``retries`` how many retries the client logged.
    """

    error: type[PlaygroundError] | None = None
    says: str = ""
    partial: str | None = None
    requests: int | None = None
    text: str | None = None
    status: int | None = None
    retry_after: float | None = None
    waited: tuple[float, float] | None = None
    retries: int | None = None


@dataclass(frozen=True)
class Case:
    faults: list[Fault]
    outcome: Outcome
    options: dict[str, object] = field(default_factory=dict)
    policy: dict[str, float] = field(default_factory=dict)  # over the matrix's quick retries
    ladder: bool = False  # about climbing the transport ladder (no pinned transport)


DIRECT = {"transport": "direct"}  # the aiohttp transport alone, no ladder

# The matrix retries at once (no backoff to speak of) and waits at most 0.2 s for a Retry-After.
QUICK_RETRIES = {"initial_delay": 0.01, "max_retry_after": 0.2}


def _http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


# -- the HTTP wire formats: every case runs against server-sent events and the data stream ---------

HTTP_CASES: dict[str, Case] = {
    "429, Retry-After in seconds, then the reply": Case(
        [Fault(status=429, retry_after="0")], Outcome(requests=2)
    ),
    "429, Retry-After as an HTTP date, then the reply": Case(
        [Fault(status=429, retry_after=_http_date(0))], Outcome(requests=2)
    ),
    "429, Retry-After of 0.3 s is waited for, then the reply": Case(
        [Fault(status=429, retry_after="0.3")],
        Outcome(requests=2, waited=(0.3, 2.5)),
        policy={"max_retry_after": 60},
    ),
    "429, Retry-After as an HTTP date a day ahead is waited for up to the cap": Case(
        [Fault(status=429, retry_after=_http_date(86_400))],
        Outcome(requests=2, waited=(0.3, 2.5)),
        policy={"max_retry_after": 0.3},
    ),
    "429, absurd Retry-After: the wait is capped, then the reply": Case(
        [Fault(status=429, retry_after="999999")], Outcome(requests=2, waited=(0.2, 2.0))
    ),
    "429, absurd Retry-After, no retries left": Case(
        [Fault(status=429, retry_after="999999")],
        Outcome(RateLimitError, "429", requests=1),
        {"max_retries": 0},
    ),
    "429, no retries left: the error carries Retry-After": Case(
        [Fault(status=429, retry_after="12")],
        Outcome(RateLimitError, "429", requests=1, status=429, retry_after=12),
        {"max_retries": 0},
    ),
    **{
        f"{status}, retried, then the reply": Case([Fault(status=status)], Outcome(requests=2))
        for status in (408, 409, 500, 502, 503, 504)
    },
    **{
        f"{status} twice, retried twice, then the reply": Case(
            [Fault(status=status)] * 2, Outcome(requests=3, retries=2)
        )
        for status in (408, 409, 500, 502, 503, 504)
    },
    "503 three times: retries run out": Case(
        [Fault(status=503)] * 3, Outcome(PlaygroundAPIError, "503", requests=3)
    ),
    "502 twice with max_retries=1: retries run out": Case(
        [Fault(status=502)] * 2,
        Outcome(ServerError, "502", requests=2, status=502, retries=1),
        {"max_retries": 1},
    ),
    "400, not retried": Case(
        [Fault(status=400)], Outcome(BadRequestError, "400", requests=1, status=400, retries=0)
    ),
    "401, not retried": Case(
        [Fault(status=401)],
        Outcome(AuthenticationError, "401", requests=1, status=401, retries=0),
    ),
    "404, not retried": Case(
        [Fault(status=404)], Outcome(NotFoundError, "404", requests=1, status=404, retries=0)
    ),
    # A refusal on the direct transport alone (pinned): the session is replaced once.
    "403 without a challenge page, direct: one fresh session, refused again": Case(
        [Fault(status=403)] * 2,
        Outcome(PermissionDeniedError, "403", requests=2, status=403),
        options=DIRECT,
    ),
    "challenge page, direct: a fresh session, then the reply": Case(
        [Fault(challenge=True)], Outcome(requests=2), options=DIRECT
    ),
    "challenge page twice, direct": Case(
        [Fault(challenge=True)] * 2, Outcome(ChallengeError, "browser", requests=2), options=DIRECT
    ),
    "challenge page with status 503 twice, direct: a second refusal is final": Case(
        [Fault(challenge=True, status=503)] * 2,
        Outcome(ChallengeError, "browser", requests=2, status=503),
        options=DIRECT,
    ),
    # The transport ladder (the default): impersonation first, then a fresh session on it.
    "challenge page, auto: the impersonating transport, then the reply": Case(
        [Fault(challenge=True)], Outcome(requests=2), ladder=True
    ),
    "challenge page twice, auto: impersonation refused too, a fresh session, then the reply": Case(
        [Fault(challenge=True)] * 2, Outcome(requests=3), ladder=True
    ),
    "challenge page three times, auto: every rung refused, one error saying what to do": Case(
        [Fault(challenge=True)] * 3,
        Outcome(ChallengeError, "refused every transport tried", requests=3),
        ladder=True,
    ),
    "403 three times, auto: the same single error": Case(
        [Fault(status=403)] * 3,
        Outcome(ChallengeError, "impersonating Chrome (curl_cffi): HTTP 403", requests=3),
        ladder=True,
    ),
    "reset before the status, retried": Case(
        [Fault(reset_before_status=True)], Outcome(requests=2)
    ),
    "reset after the headers, before any text, retried": Case(
        [Fault(cut_after=0)], Outcome(requests=2)
    ),
    "reset after 2 chunks": Case(
        [Fault(reply=REPLY, cut_after=2)],
        Outcome(PlaygroundStreamError, "8 characters", partial="one two ", requests=1),
    ),
    "clean close before the end marker": Case(
        [Fault(reply=REPLY, close_after=2)],
        Outcome(PlaygroundStreamError, "before the reply was complete", partial="one two "),
    ),
    "stalled server: idle timeout": Case(
        [Fault(stall_before=3)],
        Outcome(PlaygroundTimeoutError, "no data from the playground for 0.5 s", requests=1),
        {"timeout": 0.5, "max_retries": 0},
    ),
    "a byte every half second: total budget": Case(
        [Fault(trickle=0.5)],
        Outcome(PlaygroundTimeoutError, "total_timeout=1.5 s", requests=1),
        {"timeout": 5.0, "total_timeout": 1.5, "max_retries": 0},
    ),
    "broken JSON in a frame": Case(
        [Fault(reply=REPLY, extra_lines=[b"BROKEN"])],
        Outcome(PlaygroundProtocolError, "malformed", requests=1),
    ),
    "a 10 MB line": Case(
        [Fault(reply=["x" * 10_000_000])], Outcome(requests=1, text="x" * 10_000_000)
    ),
    "invalid UTF-8": Case(
        [Fault(body=b"INVALID_UTF8", content_type="text/plain")],
        Outcome(PlaygroundProtocolError, "UTF-8", requests=1),
    ),
    "an HTML page where a stream was expected": Case(
        [Fault(body=b"<!DOCTYPE html><html><body>Hi</body></html>", content_type="text/html")],
        Outcome(PlaygroundProtocolError, "check the base URL", requests=1),
    ),
    "an empty 200": Case(
        [Fault(body=b"")], Outcome(PlaygroundProtocolError, "empty reply", requests=1)
    ),
    "in-stream error before any text": Case(
        [Fault(error_after=(0, "5007: No such model"))],
        Outcome(PlaygroundAPIError, "5007: No such model", requests=1),
    ),
    "in-stream rate limit before any text, retried": Case(
        [Fault(error_after=(0, "3021: rate limiting, try later"))], Outcome(requests=2, retries=1)
    ),
    "in-stream error after text": Case(
        [Fault(reply=REPLY, error_after=(2, "model crashed"))],
        Outcome(
            PlaygroundStreamError,
            "model crashed (the stream broke after 8 characters",
            partial="one two ",
            requests=1,
        ),
    ),
}
# Per wire format: what a broken frame and invalid UTF-8 look like on each.
_BROKEN = {"sse": b'data: {"response": "x', "data-stream": b'0:"unterminated'}
_INVALID_UTF8 = {"sse": b'data: "\xff\xfe"\n', "data-stream": b'0:"\xff\xfe"\n'}


def _for_wire_format(faults: list[Fault], wire_format: HttpWireFormatName) -> list[Fault]:
    out = []
    for fault in faults:
        if fault.extra_lines == [b"BROKEN"]:
            out.append(Fault(reply=fault.reply, extra_lines=[_BROKEN[wire_format]]))
        elif fault.body == b"INVALID_UTF8":
            out.append(Fault(body=_INVALID_UTF8[wire_format], content_type=fault.content_type))
        else:
            out.append(fault)
    return out


async def _outcome(client: PlaygroundClient, prompt: str = "x") -> tuple[str, Exception | None]:
    received: list[str] = []
    try:
        async for event in client.astream_chat(prompt):
            if isinstance(event, TextDelta):
                received.append(event.text)
    except PlaygroundError as exc:
        return "".join(received), exc
    return "".join(received), None


async def _timed_outcome(
    client: PlaygroundClient, prompt: str = "x"
) -> tuple[str, Exception | None, float]:
    started = time.monotonic()
    text, error = await _outcome(client, prompt)
    return text, error, time.monotonic() - started


def _retries_logged(log: str) -> int:
    return len(re.findall(r"retry \d+ of \d+", log))


def _check(
    outcome: Outcome,
    text: str,
    error: Exception | None,
    requests: int,
    *,
    waited: float | None = None,
    log: str | None = None,
) -> None:
    if outcome.error is None:
        assert error is None, f"expected a reply, got {error!r}"
        if outcome.text is not None:
            assert text == outcome.text
        else:
            assert text.startswith("Echo: x")
    else:
        assert type(error) is outcome.error or isinstance(error, outcome.error), repr(error)
        assert outcome.says in str(error), str(error)
        if outcome.partial is not None:
            assert isinstance(error, PlaygroundStreamError)
            assert error.partial_text == outcome.partial == text  # what the caller saw
        else:
            assert not isinstance(error, PlaygroundStreamError)
            assert text == ""  # nothing reached the caller
    if outcome.requests is not None:
        assert requests == outcome.requests
    if outcome.status is not None:
        assert getattr(error, "status", None) == outcome.status
    if outcome.retry_after is not None:
        assert getattr(error, "retry_after", None) == outcome.retry_after
    if outcome.waited is not None:
        assert waited is not None
        low, high = outcome.waited
        assert low <= waited < high, waited
    if outcome.retries is not None:
        assert log is not None
        assert _retries_logged(log) == outcome.retries, log


def _pinned(cases: dict[str, Case]) -> list[str]:
    """The cases that hold for any one transport (not about climbing the ladder)."""
    return [name for name, case in cases.items() if not case.ladder]


@pytest.mark.parametrize("name", list(HTTP_CASES))
async def test_http_fault(server, name, caplog):
    await _http_fault(server, name, caplog, HTTP_CASES[name].options)


@pytest.mark.parametrize("name", _pinned(HTTP_CASES))
async def test_http_fault_through_the_impersonating_transport(server, name, caplog):
    await _http_fault(server, name, caplog, {"transport": "impersonate"})


async def _http_fault(server, name, caplog, transport_options) -> None:
    case = HTTP_CASES[name]
    server.push(*_for_wire_format(case.faults, server.wire_format))
    options = {"wire_format": "http", "max_retries": 2, **case.options, **transport_options}
    async with PlaygroundClient(server.url, **options) as client:
        client.retry_policy = type(client.retry_policy)(
            max_retries=int(options["max_retries"]), **{**QUICK_RETRIES, **case.policy}
        )
        with caplog.at_level(logging.INFO):
            text, error, waited = await _timed_outcome(client)
    _check(
        case.outcome, text, error, len(server.inference_requests), waited=waited, log=caplog.text
    )
    assert server.pending_faults() == 0  # every injected fault was met


async def test_connection_refused(caplog):
    async with PlaygroundClient(f"http://127.0.0.1:{free_port()}", wire_format="http") as client:
        client.retry_policy = type(client.retry_policy)(max_retries=1, initial_delay=0.01)
        with caplog.at_level(logging.INFO):
            text, error = await _outcome(client)
    _check(
        Outcome(PlaygroundConnectionError, "cannot reach the playground", retries=1),
        text,
        error,
        0,
        log=caplog.text,
    )
    assert "retry 1 of 1" in caplog.text


async def test_connection_refused_then_a_server_appears():
    port = free_port()
    server = ReferenceServer("data-stream", port=port)
    async with PlaygroundClient(f"http://127.0.0.1:{port}") as client:
        client.retry_policy = type(client.retry_policy)(max_retries=3, initial_delay=0.3)

        async def start_later() -> None:
            await asyncio.sleep(0.1)
            await asyncio.to_thread(server.start)

        starter = asyncio.create_task(start_later())
        try:
            reply = await client.achat("x")
        finally:
            await starter
            server.stop()
    assert reply.text.startswith("Echo: x")


async def test_challenge_page_gets_one_try_with_a_fresh_session(client, server):
    # Per call: a client that refreshed its session once gets one fresh try on a later call too.
    server.push(Fault(challenge=True))
    assert (await client.achat("x")).text.startswith("Echo")
    assert len(server.inference_requests) == 2
    server.push(*[Fault(challenge=True, status=503)] * 3)
    with pytest.raises(ChallengeError, match="browser") as info:
        await client.achat("x")
    assert info.value.status == 503
    assert len(server.inference_requests) == 4  # a second refusal is final, with advice


# -- the Agents frames over the WebSocket ----------------------------------------------------------

# Faults the real Agents SDK server produces, asked for by a trigger in the prompt.
AGENTS_CASES: dict[str, tuple[str, Outcome, dict[str, object]]] = {
    "model error before any text": (
        "[error:5007: No such model]",
        Outcome(PlaygroundAPIError, "5007: No such model"),
        {},
    ),
    "rate limit before any text, retried and still limited": (
        "[rate-limit]",
        Outcome(RateLimitError, "rate"),
        {"max_retries": 0},
    ),
    "rate limit before any text: retried once, then still limited": (
        "[rate-limit]",
        Outcome(RateLimitError, "3021: rate limiting", retries=1),
        {"max_retries": 1},
    ),
    "error after text": (
        "[error-after-text]",
        # The AI SDK hides an error's own words from the client unless the server exposes them.
        Outcome(
            PlaygroundStreamError,
            "An error occurred. (the stream broke after 33 characters",
            partial="Partial answer before the failure",
        ),
        {},
    ),
    "a reply that stalls: idle timeout": (
        "[slow:3000]",
        Outcome(PlaygroundTimeoutError, "no data from the playground for 0.5 s"),
        {"timeout": 0.5, "max_retries": 0},
    ),
    "a reply that flows slowly past the total budget": (
        "[slow:400]",
        Outcome(PlaygroundStreamError, "total_timeout=1 s"),
        {"timeout": 5.0, "total_timeout": 1.0, "max_retries": 0},
    ),
    "no response at all": ("[empty]", Outcome(text=""), {}),
}


@pytest.mark.parametrize("name", list(AGENTS_CASES))
async def test_agents_server_fault(agents_server, name, caplog):
    prompt, outcome, options = AGENTS_CASES[name]
    async with PlaygroundClient(agents_server.url, wire_format="agents", **options) as client:
        client.retry_policy = type(client.retry_policy)(
            max_retries=client.retry_policy.max_retries, initial_delay=0.01
        )
        with caplog.at_level(logging.INFO):
            text, error = await _outcome(client, prompt)
    if outcome.retries is not None:
        assert _retries_logged(caplog.text) == outcome.retries, caplog.text
    if outcome.error is None:
        assert error is None
        assert text == outcome.text
        return
    assert isinstance(error, outcome.error), repr(error)
    assert outcome.says in str(error), str(error)
    if outcome.partial is not None:
        assert isinstance(error, PlaygroundStreamError)
        assert error.partial_text == text
        assert text
        assert outcome.partial.startswith(text)


# WebSocket faults the SDK cannot be made to produce: the reference server's Agents route.
SOCKET_CASES: dict[str, Case] = {
    "challenge page on the upgrade, twice, direct": Case(
        [Fault(challenge=True)] * 2, Outcome(ChallengeError, "browser", requests=2), options=DIRECT
    ),
    "challenge page on the upgrade three times, auto: every rung refused": Case(
        [Fault(challenge=True)] * 3,
        Outcome(ChallengeError, "refused every transport tried", requests=3),
        ladder=True,
    ),
    "challenge page on the upgrade, auto: the impersonating transport carries the reply": Case(
        [Fault(challenge=True), Fault(websocket=True, reply=REPLY)],
        Outcome(requests=2, text="one two three four"),
        ladder=True,
    ),
    "429 on the upgrade with Retry-After, then a conversation": Case(
        [Fault(status=429, retry_after="0"), Fault(websocket=True, reply=REPLY)],
        Outcome(requests=2, text="one two three four"),
    ),
    # A server error (1011) may have left the reply running: the client goes back to the room
    # once (the second upgrade), which this server does not know (404), so the error stands.
    "closed with an error code mid-reply: back to a room that is gone": Case(
        [Fault(websocket=True, reply=REPLY, close_after=2, close_code=1011)],
        Outcome(PlaygroundStreamError, "code 1011", partial="one two ", requests=2),
    ),
    "closed with an error code before any text: back to a room that is gone": Case(
        [Fault(websocket=True, reply=REPLY, close_after=0, close_code=1011)],
        Outcome(PlaygroundConnectionError, "code 1011", requests=2),
        {"max_retries": 0},
    ),
    # A close code that answers (a policy violation) is not a dropped connection: no reconnect.
    "closed as a policy violation mid-reply: not resumed": Case(
        [Fault(websocket=True, reply=REPLY, close_after=2, close_code=1008)],
        Outcome(PlaygroundStreamError, "code 1008", partial="one two ", requests=1),
    ),
    "closed with an application code before any text: not resumed": Case(
        [Fault(websocket=True, reply=REPLY, close_after=0, close_code=4001)],
        Outcome(PlaygroundConnectionError, "code 4001", requests=1),
        {"max_retries": 0},
    ),
    "broken JSON and unknown frames before the reply": Case(
        [Fault(websocket=True, reply=REPLY, extra_lines=[b"not json"])],
        Outcome(PlaygroundProtocolError, "malformed", requests=1),
    ),
    "frames of unknown types are skipped": Case(
        [
            Fault(
                websocket=True,
                reply=REPLY,
                extra_lines=[b'{"type":"cf_agent_something_new","x":1}', b"[1, 2]"],
            )
        ],
        Outcome(requests=1, text="one two three four"),
    ),
}


@pytest.mark.parametrize("name", list(SOCKET_CASES))
async def test_websocket_fault(data_stream_server, name):
    await _websocket_fault(data_stream_server, name, SOCKET_CASES[name].options)


@pytest.mark.parametrize("name", _pinned(SOCKET_CASES))
async def test_websocket_fault_through_the_impersonating_transport(data_stream_server, name):
    await _websocket_fault(data_stream_server, name, {"transport": "impersonate"})


async def _websocket_fault(server: ReferenceServer, name: str, transport_options) -> None:
    case = SOCKET_CASES[name]
    server.push(*case.faults, route="agents")
    options = {"wire_format": "agents", "max_retries": 2, **case.options, **transport_options}
    async with PlaygroundClient(server.url, **options) as client:
        client.retry_policy = type(client.retry_policy)(
            max_retries=int(options["max_retries"]), **{**QUICK_RETRIES, **case.policy}
        )
        text, error = await _outcome(client)
    upgrades = [r for r in server.requests if r.path.startswith("/agents/")]
    _check(case.outcome, text, error, len(upgrades))
    assert server.pending_faults("agents") == 0


# Dropped connections (a cutting proxy in front of the real Agents SDK server): the reply is
# resumed in its room, whole and exactly once, while it runs ([drip:...]) or once it finished.
RUNNING = "[drip:30:40]"
FINISHED = "Name a colour"
_DELTA = 'text-delta\\"'
DROP_CASES: dict[str, tuple[str, list[Cut | None], str | None]] = {
    **{
        f"{reset} {where}, {state}: resumed": (prompt, [cut], "whole")
        for reset, is_reset in (("reset", True), ("clean close", False))
        for where, match, nth, keep in (
            ("before the first delta", _DELTA, 1, 0),
            ("inside a delta's frame", _DELTA, 5, 40),
            ("between the text and the finish", 'text-end\\"', 1, 0),
            # The reply's own done frame: the setConfig answer is "done":true too.
            ("after the finish, before done", '"done":true,"id":"chat-1"', 1, 0),
        )
        for state, prompt in (("running", RUNNING), ("finished", FINISHED))
        for cut in [Cut(match=match, nth=nth, keep_bytes=keep, reset=is_reset)]
    },
    "two drops, running: resumed twice": (
        RUNNING,
        [Cut(match=_DELTA, nth=5), Cut(match=_DELTA, nth=12)],
        "whole",
    ),
    "a drop during the resume, running: resumed again": (
        RUNNING,
        [Cut(match=_DELTA, nth=5), Cut(match='"replay":true')],
        "whole",
    ),
    "three drops, running: the stream error with the text so far": (
        "[drip:80:40]",
        [Cut(match=_DELTA, nth=n, reset=False) for n in (5, 10, 15)],
        "".join(f"d{i} " for i in range(14)),
    ),
}


@pytest.mark.parametrize("name", list(DROP_CASES))
async def test_agents_server_drop(agents_server, name, caplog):
    prompt, plan, outcome = DROP_CASES[name]
    async with PlaygroundClient(agents_server.url, wire_format="agents") as client:
        whole, error = await _outcome(client, prompt)
    assert error is None
    async with (
        CuttingProxy(agents_server.port, plan) as proxy,
        PlaygroundClient(proxy.url, wire_format="agents", max_retries=0) as client,
    ):
        with caplog.at_level(logging.INFO):
            text, error = await _outcome(client, prompt)
    assert proxy.cuts_made == len(plan)
    if outcome == "whole":
        assert error is None, repr(error)
        assert text == whole
        assert caplog.text.count("The connection dropped mid-reply") == len(plan)
    else:
        assert isinstance(error, PlaygroundStreamError)
        assert error.partial_text == text == outcome


def test_the_matrix_is_the_size_the_issue_asks_for():
    cases = 2 * len(HTTP_CASES) + 1 + len(AGENTS_CASES) + len(SOCKET_CASES) + 2 * len(STAGES)
    assert cases >= 70
    assert len(DROP_CASES) >= 16 + 3


# -- the caller cancels or breaks, at every stage ----------------------------------------------

STAGES = ["before connecting", "waiting for the reply", "mid-stream", "breaking out mid-stream"]


async def _stop_at(
    client: PlaygroundClient,
    stage: str,
    prompt: str,
    seen_text: list[str],
    reached: Callable[[], Awaitable[object]],
) -> None:
    """Start a chat and stop it at ``stage``; raise CancelledError if it was cancelled.

    ``reached`` returns once the server holds the request (and its model has not answered).
    """

    async def consume(stop_after_first: bool) -> None:
        async for event in client.astream_chat(prompt):
            if isinstance(event, TextDelta):
                seen_text.append(event.text)
                if stop_after_first:
                    break

    if stage == "breaking out mid-stream":
        await consume(stop_after_first=True)
        return
    task = asyncio.create_task(consume(stop_after_first=False))
    if stage == "before connecting":
        await asyncio.sleep(0)
    elif stage == "waiting for the reply":
        await reached()
    else:
        while not seen_text:
            await asyncio.sleep(0.01)
    task.cancel()
    await task


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("where", ["http", "websocket"])
@pytest.mark.parametrize("transport", ["direct", "impersonate"])
async def test_the_caller_stops_at_every_stage(
    data_stream_server, agents_server, where, stage, transport
):
    fault = Fault(stall_before=2) if stage == "waiting for the reply" else Fault(chunk_delay=0.2)
    prompt = f"stopped {stage} {transport} {uuid.uuid4().hex}"  # this call's own, to find it by
    if where == "http":
        url, port, wire_format = data_stream_server.url, data_stream_server.port, "http"

        async def reached() -> object:
            record = await asyncio.to_thread(data_stream_server.stream_for, prompt)
            return await asyncio.to_thread(record.wait_stalling)
    else:
        url, port, wire_format = agents_server.url, agents_server.port, "agents"
        prompt += " [slow:2000]" if stage == "waiting for the reply" else " [slow:200]"

        async def reached() -> object:
            return await asyncio.to_thread(agents_server.chat_request, prompt)

    async with PlaygroundClient(url, wire_format=wire_format, transport=transport) as client:
        await client.achat("warm up")  # pooled connections, so the count below is fair
        held, tasks = client_sockets_to(port), len(asyncio.all_tasks())
        if where == "http":
            data_stream_server.push_for(prompt, fault)
        seen: list[str] = []
        if stage == "breaking out mid-stream":
            await _stop_at(client, stage, prompt, seen, reached)
        else:
            with pytest.raises(asyncio.CancelledError):
                await _stop_at(client, stage, prompt, seen, reached)
        assert (seen != []) == (stage in ("mid-stream", "breaking out mid-stream"))
        # The client keeps working, and what the stopped call held is given back.
        reply = await client.achat("after")
        assert reply.text
        # Closes run in the background. Counted: the client's own connections to the server
        # (the reference server, in this process, closes its side only when it next writes).
        # Calls one at a time need one connection: the pool keeps "after"'s. (The warm-up's may
        # be gone before the count: over HTTP/1.1, curl closes the connection of a reply whose
        # driver stopped at the finish before curl had read the body's last chunk.)
        assert await settled(lambda: len(asyncio.all_tasks()) <= tasks, 30), asyncio.all_tasks()
        assert await settled(lambda: client_sockets_to(port) <= max(held, 1), 30), (
            f"{client_sockets_to(port)} connections to the server, {held} before the call"
        )
    if stage == "before connecting":
        return
    # The server's own word: the stopped reply was given up, not read to its end.
    if where == "http":
        record = data_stream_server.stream_for(prompt)
        assert await asyncio.to_thread(record.wait_ended) == "reader gone"
    else:
        room = (await asyncio.to_thread(agents_server.chat_request, prompt))["room"]
        ended = await asyncio.to_thread(agents_server.stream_end, room)
        assert ended["ended"] == "cancelled"
        assert ended["written"] < ended["total"]
