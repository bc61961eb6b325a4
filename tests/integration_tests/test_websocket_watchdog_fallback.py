"""The WebSocket watchdog's fallback, forced against a real aiohttp WebSocket server on loopback.

The watchdog cuts a wait only while aiohttp's private ``_waiting`` flag (a bool since aiohttp
3.10) says aiohttp waits for its reader. A release whose flag is gone or of another shape (3.9's
was a Future or None) leaves every wait to aiohttp's own ``receive(timeout=...)``, a timer per
wait, as before the watchdog. Here aiohttp keeps that state in another shape, and the socket
must behave as it does with the watchdog (the same scripts as ``test_transports.py``).
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from langchain_cloudflare_playground.client import (
    AiohttpTransport,
    PlaygroundConnectionError,
    PlaygroundTimeoutError,
    WebSocketClosedError,
    WebSocketRequest,
)
from langchain_cloudflare_playground.client.transports.aiohttp_transport import AiohttpWebSocket
from tests.integration_tests.test_transports import (
    PING,
    Close,
    _frames_then_outcome,
    _numbered,
    _scripted_websocket,
)


class WaitingOfAnotherShape:
    """aiohttp's "waiting for the reader" state, true while it waits, but not a bool."""

    def __init__(self, up: object) -> None:
        self.up = bool(up)

    def __bool__(self) -> bool:
        return self.up


@pytest.fixture
def watchdog_arms(monkeypatch):
    """aiohttp's client WebSockets keep ``_waiting`` in another shape; the watchdog's arms.

    aiohttp itself reads and sets the flag as before (through a property); only its shape
    changes. Every time a watchdog timer is set is recorded: the fallback sets none.
    """

    def get(websocket):
        return websocket.__dict__["waiting of another shape"]

    def put(websocket, value):
        websocket.__dict__["waiting of another shape"] = WaitingOfAnotherShape(value)

    monkeypatch.setattr(
        aiohttp.ClientWebSocketResponse, "_waiting", property(get, put), raising=False
    )
    arms: list[float] = []
    arm = AiohttpWebSocket._arm

    def recording_arm(self, when):
        arms.append(when)
        arm(self, when)

    monkeypatch.setattr(AiohttpWebSocket, "_arm", recording_arm)
    return arms


async def test_the_socket_knows_the_flag_is_not_the_one_it_can_watch(watchdog_arms):
    async with _scripted_websocket(_numbered([0.0])) as server:
        transport = AiohttpTransport(timeout=1.0)
        socket = await transport.open_websocket(WebSocketRequest(server.url))
        try:
            assert not isinstance(socket._websocket._waiting, bool)
            assert not socket._watchable
            assert await socket.receive() == "0"
        finally:
            await socket.close()
            await transport.aclose()


async def test_without_the_flag_silence_from_the_start_times_out_after_timeout(watchdog_arms):
    async with _scripted_websocket([]) as server:
        frames, error, silence = await _frames_then_outcome(server.url, timeout=1.0)
    assert frames == []
    assert isinstance(error, PlaygroundTimeoutError)
    assert "no data from the playground for 1 s" in str(error)
    assert 1.0 <= silence < 2.0  # the timeout, once
    assert watchdog_arms == []


async def test_without_the_flag_silence_after_many_frames_times_out_after_timeout(watchdog_arms):
    async with _scripted_websocket(_numbered([0.0] * 2000)) as server:
        frames, error, silence = await _frames_then_outcome(server.url, timeout=1.0)
    assert frames == [str(n) for n in range(2000)]
    assert isinstance(error, PlaygroundTimeoutError)
    assert 1.0 <= silence < 2.0  # the timeout, once
    assert watchdog_arms == []


async def test_without_the_flag_frames_under_timeout_apart_do_not_time_out(watchdog_arms):
    # Each wait gets a fresh timer: gaps of half the timeout, over four times the timeout.
    gaps = [0.0] * 100 + [0.5, 0.5, 0.0, 0.5, 0.5]
    async with _scripted_websocket(_numbered(gaps)) as server:
        frames, error, silence = await _frames_then_outcome(server.url, timeout=1.0)
    assert frames == [str(n) for n in range(len(gaps))]
    assert isinstance(error, PlaygroundTimeoutError)
    assert 1.0 <= silence < 2.0  # the timeout, once
    assert watchdog_arms == []


async def test_without_the_flag_pings_restart_the_idle_timeout_and_are_answered(watchdog_arms):
    script = [(0.4, PING)] * 9 + [(0.4, "after the pings")]
    async with _scripted_websocket(script) as server:
        frames, error, silence = await _frames_then_outcome(server.url, timeout=1.2)
        pongs = list(server.pongs)
    assert frames == ["after the pings"]
    assert pongs == [b"still there?"] * 9
    assert isinstance(error, PlaygroundTimeoutError)
    assert 1.2 <= silence < 2.4  # the timeout, once
    assert watchdog_arms == []


async def test_without_the_flag_total_timeout_ends_a_trickling_reply(watchdog_arms):
    started = time.monotonic()
    async with _scripted_websocket(_numbered([0.2] * 100)) as server:
        frames, error, _ = await _frames_then_outcome(server.url, timeout=5.0, total_timeout=1.0)
    elapsed = time.monotonic() - started
    assert 1 <= len(frames) < 100  # frames kept coming: the budget, not silence, ended it
    assert isinstance(error, PlaygroundTimeoutError)
    assert "total_timeout=1 s" in str(error)
    assert 1.0 <= elapsed < 5.0  # the budget, not the 5 s idle timeout
    assert watchdog_arms == []


async def test_without_the_flag_a_close_from_the_server_is_reported_with_its_code(watchdog_arms):
    script = [*_numbered([0.0, 0.0]), (0.3, Close(4000))]
    async with _scripted_websocket(script) as server:
        frames, error, silence = await _frames_then_outcome(server.url, timeout=3.0)
    assert frames == ["0", "1"]
    assert isinstance(error, WebSocketClosedError)
    assert error.code == 4000
    assert silence < 3.0  # reported when it came, not at the idle timeout


async def test_without_the_flag_the_callers_cancel_and_timeout_are_the_callers(watchdog_arms):
    # A cancelled wait leaves no timer behind, a caller's own timeout is the caller's, and each
    # next wait is bounded afresh (every wait here keeps at least 0.4 s of room).
    async with _scripted_websocket(_numbered([0.0, 1.8, 0.8])) as server:
        transport = AiohttpTransport(timeout=1.0)
        socket = await transport.open_websocket(WebSocketRequest(server.url))
        try:
            assert await socket.receive() == "0"
            waiting = asyncio.create_task(socket.receive())
            await asyncio.sleep(0.2)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            # Past the cancelled wait's due time: a timer left behind would cancel this sleep.
            await asyncio.sleep(1.1)
            assert await socket.receive() == "1"
            with pytest.raises(TimeoutError) as caught:
                async with asyncio.timeout(0.2):
                    await socket.receive()
            assert not isinstance(caught.value, PlaygroundTimeoutError)
            assert asyncio.current_task().cancelling() == 0
            assert await socket.receive() == "2"
        finally:
            await socket.close()
            await transport.aclose()
    assert watchdog_arms == []


async def test_a_wait_outside_any_task_is_refused_not_left_unbounded():
    # With the real flag: a coroutine driven from a loop callback has no task for the watchdog
    # to cancel, so the wait goes to aiohttp's own timeout, which refuses to run outside a task
    # (aiohttp reports that as the socket's error): it fails at once, it never waits unbounded.
    async with _scripted_websocket([]) as server:
        transport = AiohttpTransport(timeout=0.5)
        socket = await transport.open_websocket(WebSocketRequest(server.url))
        assert socket._watchable
        outcome = asyncio.get_running_loop().create_future()
        receiving = socket.receive()

        def step():
            try:
                receiving.send(None)
            except BaseException as exc:
                outcome.set_result(exc)
            else:
                outcome.set_result(None)

        try:
            asyncio.get_running_loop().call_soon(step)
            error = await outcome
        finally:
            receiving.close()
            await socket.close()
            await transport.aclose()
    assert isinstance(error, PlaygroundConnectionError)
    assert "Timeout should be used inside a task" in str(error)
    assert socket._watchdog is None
