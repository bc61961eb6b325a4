"""The soak: many chats, one in ten meeting a fault picked at random (fixed seed).

Every call must end exactly as documented: a call given no fault (or a fault the client gets
past: a retried status, a dropped WebSocket) returns exactly the scripted model's reply to its
prompt, as the server's own record of that request says it was; a faulted call ends in its typed
error, carrying exactly the text that arrived before it. Any other ending fails the soak, and so
does a call that takes longer than a bound (a hang). Afterwards the process must hold what it held
before: file descriptors, tasks, threads and Chromium processes. Warnings are errors in the whole
suite, so an unclosed session, an un-awaited coroutine or a destroyed pending task fails it too.

``make test`` runs a reduced size; ``make soak`` (``CF_PLAYGROUND_SOAK=full``) the full one:
2,000 sequential and 200 concurrent chats per server.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import os
import random
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from langchain_cloudflare_playground.client import (
    BadRequestError,
    PlaygroundAPIError,
    PlaygroundClient,
    PlaygroundError,
    PlaygroundProtocolError,
    PlaygroundStreamError,
    PlaygroundTimeoutError,
    RateLimitError,
    TextDelta,
)
from tests.cutting_proxy import Cut, CuttingProxy
from tests.helpers import SOAK_LINES, chromium_processes
from tests.reference_server import Fault, ReferenceServer
from tests.scripted_model import echo_reply
from tests.tls_edge import TlsEdge

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from tests.agents_worker import AgentsServer

FULL = os.environ.get("CF_PLAYGROUND_SOAK") == "full"
SEQUENTIAL = 2000 if FULL else 200
CONCURRENT = 200 if FULL else 50
FAULT_RATE = 0.10
CALL_BOUND = 60.0  # seconds: a call that takes longer counts as a hang
# The idle timeout: long enough that no call meets it on a busy machine with fifty chats at once
# (a silence of that length is a timeout, as documented, not a flake of the soak's).
TIMEOUT = 10.0
# The calls whose fault is a stall go through a second client with this idle timeout, so that
# the stalls are quick to wait out.
STALL_TIMEOUT = 1.0


@dataclass(frozen=True)
class Expect:
    """How a call must end: the whole reply, or a typed error after the reply's first chunks.

    ``error`` None: the whole reply. Otherwise an error of exactly that type, the text before it
    exactly the reply's first ``chunks`` chunks (None: all of them), carried as ``partial_text``
    by a stream error, and ``says`` in its message.
    """

    error: type[PlaygroundError] | None = None
    chunks: int | None = 0
    says: str = ""

    def problem(  # noqa: PLR0911 (one return per way to break it)
        self, prompt: str, reply: list[str], text: str, failure: BaseException | None
    ) -> str | None:
        """Why a call for ``prompt`` that ended in ``text`` and ``failure`` breaks this, if it does.

        ``reply`` is the scripted model's reply to the prompt, chunk by chunk.
        """
        if self.error is None:
            if failure is not None:
                return f"{prompt!r}: expected the reply, got {failure!r} after {text!r}"
            if text != "".join(reply):
                return f"{prompt!r}: expected the reply {''.join(reply)!r}, got {text!r}"
            return None
        if type(failure) is not self.error:
            return f"{prompt!r}: expected {self.error.__name__}, got {failure!r} after {text!r}"
        before = "".join(reply if self.chunks is None else reply[: self.chunks])
        if text != before:
            return f"{prompt!r}: expected {before!r} before the error, got {text!r}"
        partial = getattr(failure, "partial_text", text)
        if partial != text:
            return f"{prompt!r}: the error carries {partial!r}, but {text!r} arrived"
        if self.says not in str(failure):
            return f"{prompt!r}: the error does not say {self.says!r}: {failure}"
        return None


WHOLE = Expect()

# A stall past the short timeout: the retry gets the reply.
HTTP_STALL = Fault(stall_before=3 * STALL_TIMEOUT)
# Faults of the reference server's HTTP route, each one request's misbehaviour (retries get none),
# and what the call ends in with the soak's two retries.
HTTP_FAULTS: list[tuple[Fault, Expect]] = [
    (Fault(status=429, retry_after="0"), WHOLE),
    (Fault(status=500), WHOLE),
    (Fault(status=503), WHOLE),
    (Fault(status=400), Expect(BadRequestError, says="400")),
    (Fault(challenge=True), WHOLE),
    (Fault(reset_before_status=True), WHOLE),
    (Fault(cut_after=2), Expect(PlaygroundStreamError, 2)),
    (Fault(close_after=2), Expect(PlaygroundStreamError, 2)),
    (Fault(error_after=(1, "model crashed")), Expect(PlaygroundStreamError, 1, "model crashed")),
    (Fault(extra_lines=[b"\xff\xfe not a line"]), Expect(PlaygroundProtocolError, says="UTF-8")),
    (Fault(body=b""), Expect(PlaygroundProtocolError, says="empty")),
    (HTTP_STALL, WHOLE),
]
# Triggers of the real Agents SDK server's scripted model, and dropped connections: the cutting
# proxy in front of the server drops the first connection of a conversation whose prompt has
# DROP (inside the frame of the first delta that quotes it, by a reset), and the reply must
# still arrive whole, exactly once: resumed while it runs ([slow:...]) or read back once
# finished.
DROP = "[drop]"
# A reply slower than the idle timeout and the two resumes it allows (3 waits and 1 s of backoff).
NEVER_IN_TIME = f"[slow:{int((3 * STALL_TIMEOUT + 1 + 8) * 1000)}]"
AGENTS_FAULTS: list[tuple[str, Expect]] = [
    ("[error-before-text]", Expect(PlaygroundAPIError, says="An error occurred")),
    ("[rate-limit]", Expect(RateLimitError, says="3021")),
    ("[error-after-text]", Expect(PlaygroundStreamError, None, "An error occurred")),
    (NEVER_IN_TIME, Expect(PlaygroundTimeoutError)),
    (DROP, WHOLE),
    (f"{DROP} [reasoning]", WHOLE),
    (f"{DROP} [reasoning] [slow:150]", WHOLE),  # cut while it runs: the reasoning quotes it
]


@dataclass(frozen=True)
class Call:
    """One chat of the soak: its prompt, how it must end, and whether its fault is a stall."""

    prompt: str
    expect: Expect
    faulted: bool
    stalled: bool = False


class Tally:
    """What the soak saw: how calls ended, and every call that ended otherwise than it must."""

    def __init__(self) -> None:
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.problems: list[str] = []
        self.resumed_alone = 0  # dropped and resumed whole among the sequential chats

    def summary(self) -> str:
        """One line: calls, faults, outcomes."""
        calls = sum(self.outcomes.values())
        ended = ", ".join(f"{count} {name}" for name, count in sorted(self.outcomes.items()))
        return f"{calls} calls ({ended})"


async def _chat(
    client: PlaygroundClient,
    call: Call,
    reply_of: Callable[[str], Awaitable[list[str]]],
    tally: Tally,
    *,
    together: bool = False,
) -> None:
    """Run one call and hold it to its expectation (a broken one goes into ``tally.problems``)."""
    text: list[str] = []

    async def run() -> None:
        async for event in client.astream_chat(call.prompt):
            if isinstance(event, TextDelta):
                text.append(event.text)

    failure: BaseException | None = None
    try:
        await asyncio.wait_for(run(), CALL_BOUND)
    except TimeoutError:
        tally.problems.append(f"{call.prompt!r}: hung for {CALL_BOUND:g} s")
        return
    except PlaygroundError as exc:
        failure = exc
    problem = call.expect.problem(call.prompt, await reply_of(call.prompt), "".join(text), failure)
    if problem is not None:
        tally.problems.append(problem)
        return
    outcome = "replies" if failure is None else type(failure).__name__
    if call.faulted and failure is None:
        outcome = "replies after a fault"
        tally.resumed_alone += DROP in call.prompt and not together
    tally.outcomes[outcome] += 1


def _plan(faults: list[tuple[object, Expect]]) -> list[tuple[Call, object]]:
    """The soak's calls, sequential ones first, each with its fault (None for most)."""
    rng = random.Random(2026_11_26)  # noqa: S311 (a fixed seed, for faults, not secrets)
    calls = []
    for index in range(SEQUENTIAL + CONCURRENT):
        prompt = f"soak {index:05d}"
        if rng.random() < FAULT_RATE:
            fault, expect = rng.choice(faults)
            stalled = fault is HTTP_STALL or fault == NEVER_IN_TIME
            calls.append((Call(prompt, expect, faulted=True, stalled=stalled), fault))
        else:
            calls.append((Call(prompt, WHOLE, faulted=False), None))
    return calls


async def _soak(
    clients: tuple[PlaygroundClient, PlaygroundClient],
    calls: list[Call],
    reply_of: Callable[[str], Awaitable[list[str]]],
) -> Tally:
    """Run ``calls``: stalled ones through ``clients[1]`` (the short timeout), the rest ``[0]``."""
    tally = Tally()
    for call in calls[:SEQUENTIAL]:
        await _chat(clients[call.stalled], call, reply_of, tally)
    await asyncio.gather(
        *(
            _chat(clients[call.stalled], call, reply_of, tally, together=True)
            for call in calls[SEQUENTIAL:]
        )
    )
    return tally


def _http_calls(server: ReferenceServer) -> list[Call]:
    """The plan for the reference server, each fault pinned to its call's prompt."""
    planned = _plan(HTTP_FAULTS)  # type: ignore[arg-type]
    for call, fault in planned:
        if fault is not None:
            server.push_for(call.prompt, fault)  # type: ignore[arg-type]
    return [call for call, _ in planned]


def _agents_calls() -> list[Call]:
    """The plan for the Agents server: a fault is a trigger in the prompt."""
    planned = _plan(AGENTS_FAULTS)  # type: ignore[arg-type]
    return [
        call if trigger is None else dataclasses.replace(call, prompt=f"{trigger} {call.prompt}")
        for call, trigger in planned
    ]


def _http_reply_of(server: ReferenceServer) -> Callable[[str], Awaitable[list[str]]]:
    async def reply_of(prompt: str) -> list[str]:
        record = server.stream_for(prompt, seconds=0)  # the call has ended: it came
        return echo_reply(record.request, server.wire_format)

    return reply_of


def _agents_reply_of(server: AgentsServer) -> Callable[[str], Awaitable[list[str]]]:
    async def reply_of(prompt: str) -> list[str]:
        try:
            request = await asyncio.to_thread(server.chat_request, prompt, within=0)
        except AssertionError:  # never reached the model (a timeout before it, say)
            return []
        return list(request["script"]["text"])

    return reply_of


def _counts() -> tuple[int, int, int, int]:
    tasks = len(asyncio.all_tasks()) if _running_loop() else 0
    return (
        len(os.listdir("/proc/self/fd")),
        tasks,
        len(_our_threads()),
        len(chromium_processes()),
    )


# The event loop's default executor (threads "asyncio_N") is the loop's, shared by everything
# that runs blocking work on it (curl_cffi's WebSocket handshakes, getaddrinfo, the tests' own
# waits for a server's record): its idle workers stay until the loop closes, at most this many.
# It is checked apart from our threads.
LOOP_EXECUTOR_THREADS = min(32, (os.cpu_count() or 1) + 4)


def _our_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if not t.name.startswith("asyncio_")]


def _loop_executor_threads() -> int:
    """Threads of the running loop's default executor (not of other loops, such as the shared
    background loops of earlier tests' synchronous clients)."""
    executor = asyncio.get_running_loop()._default_executor  # type: ignore[attr-defined]
    return 0 if executor is None else len(executor._threads)


def _running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _settled(before: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    after = _counts()
    for _ in range(100):  # background closes finish within moments
        if all(a <= b for a, b in zip(after, before, strict=True)):
            break
        await asyncio.sleep(0.05)
        after = _counts()
    return after


def _held(tally: Tally, calls: list[Call]) -> None:
    """Fail with the broken calls, if any; check every call ended and faults were met."""
    assert tally.problems == [], f"{len(tally.problems)} calls ended wrong:\n" + "\n".join(
        tally.problems[:20]
    )
    assert sum(tally.outcomes.values()) == len(calls)
    assert any(call.faulted for call in calls)


# Each transport pinned: a challenge fault would otherwise move the ladder's client for good.
TRANSPORTS = ["direct", "impersonate"]


@pytest.mark.timeout(900 if FULL else 300)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_soak_over_http(server, soak_report, transport):
    calls = _http_calls(server)
    before = _counts()
    async with (
        PlaygroundClient(
            server.url, wire_format="http", timeout=TIMEOUT, transport=transport
        ) as client,
        PlaygroundClient(
            server.url, wire_format="http", timeout=STALL_TIMEOUT, transport=transport
        ) as impatient,
    ):
        for each in (client, impatient):
            each.retry_policy = type(each.retry_policy)(max_retries=2, initial_delay=0.01)
        tally = await _soak((client, impatient), calls, _http_reply_of(server))
    # With the client closed, its pooled connections are closed too: back to where we began.
    after = await _settled(before)
    soak_report.append(f"http {server.wire_format} {transport}: {tally.summary()}")
    _held(tally, calls)
    assert server.pending_faults() == 0
    assert all(a <= b for a, b in zip(after, before, strict=True)), (before, after)


@pytest.mark.timeout(900 if FULL else 300)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_soak_over_the_websocket(agents_server, soak_report, transport, tls_certificates):
    calls = _agents_calls()
    before, executor_before = _counts(), _loop_executor_threads()
    drops = CuttingProxy(agents_server.port, first_in_each_room=Cut(match=DROP, keep_bytes=30))
    await drops.__aenter__()
    # The impersonating transport goes through the TLS edge, as it would to the live site.
    edge = TlsEdge(drops.port, tls_certificates) if transport == "impersonate" else None
    url = edge.start().url if edge is not None else drops.url
    options = {"wire_format": "agents", "transport": transport, "verify": tls_certificates.ca_path}
    try:
        async with (
            PlaygroundClient(url, timeout=TIMEOUT, **options) as client,
            PlaygroundClient(url, timeout=STALL_TIMEOUT, **options) as impatient,
        ):
            for each in (client, impatient):
                each.retry_policy = type(each.retry_policy)(max_retries=1, initial_delay=0.01)
            tally = await _soak((client, impatient), calls, _agents_reply_of(agents_server))
    finally:
        if edge is not None:
            edge.stop()
        await drops.__aexit__()
    soak_report.append(f"websocket {transport}: {tally.summary()}, {drops.cuts_made} cut")
    _held(tally, calls)
    # Every conversation with DROP ended whole (checked per call), and all or most were cut.
    assert 0 < drops.cuts_made <= sum(DROP in call.prompt for call in calls)
    assert tally.resumed_alone > 0
    after = await _settled(before)
    assert all(a <= b for a, b in zip(after, before, strict=True)), (before, after)
    assert _loop_executor_threads() - executor_before <= LOOP_EXECUTOR_THREADS
    if edge is not None:
        assert {seen.verdict for seen in edge.seen} == {"browser"}


# -- the soak's judgement, fed wrong answers: it must fail them -----------------------------


async def test_the_soak_fails_a_wrong_reply(data_stream_server):
    """A server that answers one prompt with another's text: the soak's check reports it."""
    prompt = "soak 00001"
    data_stream_server.push_for(prompt, Fault(reply=["Echo: ", "soak 00002 ", "| model=x"]))
    tally = Tally()
    async with PlaygroundClient(data_stream_server.url, wire_format="http") as client:
        await _chat(
            client, Call(prompt, WHOLE, faulted=False), _http_reply_of(data_stream_server), tally
        )
    assert len(tally.problems) == 1
    assert "expected the reply" in tally.problems[0]
    assert not tally.outcomes


async def test_the_soak_fails_an_error_where_a_reply_was_due(data_stream_server):
    prompt = "soak 00003"
    data_stream_server.push_for(prompt, Fault(status=400))
    tally = Tally()
    async with PlaygroundClient(data_stream_server.url, wire_format="http") as client:
        await _chat(
            client, Call(prompt, WHOLE, faulted=False), _http_reply_of(data_stream_server), tally
        )
    assert tally.problems == [
        f"{prompt!r}: expected the reply, got {tally.problems[0].split('got ', 1)[1]}"
    ]
    assert "BadRequestError" in tally.problems[0]


def _broke_after(text: str) -> PlaygroundStreamError:
    return PlaygroundStreamError("the stream broke", partial_text=text)


@pytest.mark.parametrize(
    ("expect", "text", "failure", "wrong"),
    [
        (WHOLE, "a b", None, "expected the reply 'a b c'"),  # short
        (WHOLE, "a b c c", None, "expected the reply"),  # a chunk twice
        (Expect(PlaygroundStreamError, 2), "a b ", BadRequestError("x"), "expected Playground"),
        (Expect(PlaygroundStreamError, 2), "a ", _broke_after("a "), "before"),
        (Expect(PlaygroundStreamError, 2), "a b ", _broke_after("a "), "carries"),
        (Expect(RateLimitError, says="3021"), "", RateLimitError("429"), "does not say"),
        (Expect(PlaygroundTimeoutError), "", None, "expected PlaygroundTimeoutError"),
    ],
)
def test_the_soak_judges_each_ending(expect, text, failure, wrong):
    problem = expect.problem("p", ["a ", "b ", "c"], text, failure)
    assert problem is not None
    assert wrong in problem


def test_the_soak_passes_the_right_endings():
    reply = ["a ", "b ", "c"]
    assert WHOLE.problem("p", reply, "a b c", None) is None
    stream_error = PlaygroundStreamError("x", partial_text="a b ")
    assert Expect(PlaygroundStreamError, 2).problem("p", reply, "a b ", stream_error) is None
    assert (
        Expect(BadRequestError, says="400").problem("p", reply, "", BadRequestError("HTTP 400"))
        is None
    )


@pytest.fixture
def soak_report(request):
    """Where a soak says what it saw: one line for the whole run, at its end (conftest.py)."""
    return request.config.stash.setdefault(SOAK_LINES, [])
