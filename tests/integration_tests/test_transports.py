"""Transports are handed in: a caller's own transport carries every request, in the client and
in both adapters, and the cassette transport is loaded only while a cassette is in use."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import subprocess
import sys
import textwrap
import time

import pytest
from llama_index.core.base.llms.types import ChatMessage

from langchain_cloudflare_playground import ChatCloudflarePlayground
from langchain_cloudflare_playground.client import (
    AiohttpTransport,
    HttpResponse,
    PlaygroundClient,
    PlaygroundConnectionError,
    PlaygroundTimeoutError,
    TextDelta,
    WebSocketClosedError,
    WebSocketRequest,
)
from llama_index_cloudflare_playground import CloudflarePlayground
from tests.agents_worker import CHAT_MODEL_COUNT


class CountingSocket:
    """A WebSocket that counts the frames it receives for its transport."""

    def __init__(self, inner, owner: CountingTransport) -> None:
        self.inner = inner
        self.owner = owner

    async def send(self, frame: str) -> None:
        self.owner.frames_sent += 1
        await self.inner.send(frame)

    async def receive(self) -> str:
        frame = await self.inner.receive()
        self.owner.frames_received += 1
        return frame

    def conversation_ended(self) -> None:
        self.inner.conversation_ended()

    async def close(self) -> None:
        await self.inner.close()


class CountingTransport:
    """A transport of the caller's own: aiohttp underneath, with every request counted."""

    def __init__(self) -> None:
        self.inner = AiohttpTransport(timeout=30)
        self.http_requests: list[str] = []
        self.websockets = 0
        self.frames_sent = 0
        self.frames_received = 0
        self.closed = 0

    def stream(self, request):
        self.http_requests.append(f"{request.method} {request.url.rsplit('/', 2)[-2:]}")
        return self.inner.stream(request)

    async def open_websocket(self, request):
        self.websockets += 1
        return CountingSocket(await self.inner.open_websocket(request), self)

    async def aclose(self) -> None:
        self.closed += 1
        await self.inner.aclose()


async def test_the_client_sends_everything_through_the_callers_transport(agents_server):
    transport = CountingTransport()
    async with PlaygroundClient(agents_server.url, transport=transport) as client:
        deltas = [e async for e in client.astream_chat("hello") if isinstance(e, TextDelta)]
        models = await client.alist_models()
    assert "".join(d.text for d in deltas).startswith("Echo from the mock model.")
    assert len(models) == CHAT_MODEL_COUNT
    assert transport.websockets == 2  # the chat and the model list
    # Each text delta came in a frame of its own, after the room's greeting frames.
    assert transport.frames_received > len(deltas) + 3
    assert transport.frames_sent >= 3  # the room state, the chat request, the getModels call
    assert transport.closed == 1  # closed with the client


async def test_the_http_wire_formats_go_through_the_callers_transport(data_stream_server):
    transport = CountingTransport()
    async with PlaygroundClient(data_stream_server.url, transport=transport) as client:
        reply = await client.achat("over http")
        await client.alist_models()
    assert reply.text.startswith("Echo: over http")
    # The Agents route is tried first (the reference server has none), then HTTP, remembered.
    assert transport.websockets == 1
    assert transport.http_requests == ["POST ['api', 'inference']", "GET ['api', 'models']"]


def test_a_langchain_model_uses_the_callers_transport(agents_server):
    transport = CountingTransport()
    llm = ChatCloudflarePlayground(base_url=agents_server.url, transport=transport)
    assert llm.client_options == {"transport": transport}
    assert llm.invoke("from langchain").content.startswith("Echo from the mock model.")
    chunks = list(llm.stream("streamed"))
    assert len(chunks) > 1
    assert transport.websockets == 2
    assert transport.frames_received > len(chunks)


def test_a_llama_index_llm_uses_the_callers_transport(agents_server):
    transport = CountingTransport()
    llm = CloudflarePlayground(base_url=agents_server.url, transport=transport)
    assert "transport" not in llm.to_dict()  # client options stay out of serialisation
    assert str(llm.complete("from llama-index")).startswith("Echo from the mock model.")
    responses = list(llm.stream_chat([ChatMessage(role="user", content="streamed")]))
    assert responses[-1].message.content
    assert transport.websockets == 2
    assert transport.frames_received > len(responses)


class InMemoryTransport:
    """Routes through something this package does not ship: here, replies made in memory."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines
        self.bodies: list[object] = []

    @contextlib.asynccontextmanager
    async def stream(self, request):
        self.bodies.append(request.json)

        async def body():
            for line in self.lines:
                yield line

        yield HttpResponse(200, [("Content-Type", "text/event-stream")], body())

    async def open_websocket(self, request):
        msg = "this transport carries HTTP only"
        raise PlaygroundConnectionError(msg)

    async def aclose(self) -> None:
        pass


async def test_a_transport_that_is_not_aiohttp_at_all():
    transport = InMemoryTransport([b'data: {"response":"Hel', b'lo"}\n\n', b"data: [DONE]\n\n"])
    async with PlaygroundClient(
        "http://in-memory.invalid", transport=transport, wire_format="http", max_retries=0
    ) as client:
        reply = await client.achat(
            [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
        )
    assert reply.text == "Hello"
    assert transport.bodies[0]["messages"][-1]["content"] == "Hi"


def test_a_wrong_transport_fails_when_the_client_is_made():
    with pytest.raises(TypeError, match="stream, open_websocket and aclose"):
        PlaygroundClient("http://x", transport=object())


# -- the cassette transport is test support: loaded only while a cassette is in use ----------

_PROBE = textwrap.dedent(
    """
    import asyncio, json, sys
    from langchain_cloudflare_playground.client import PlaygroundClient

    async def main(url, cassette):
        async def talk():
            async with PlaygroundClient(url, session_cache=False) as client:
                await client.achat("hi")
                await client.alist_models()
        if cassette:
            import vcr
            from langchain_cloudflare_playground.testing import vcr_config
            with vcr.use_cassette(cassette, record_mode="all", **vcr_config()):
                await talk()
        else:
            await talk()
        names = ("vcr", "langchain_cloudflare_playground.testing.cassette_transport")
        print(json.dumps({name: name in sys.modules for name in names}))

    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
    """
)


@pytest.mark.parametrize("server_name", ["agents_server", "data_stream_server"])
def test_a_call_without_a_cassette_loads_no_cassette_code(request, server_name, tmp_path):
    url = request.getfixturevalue(server_name).url
    plain = subprocess.run(
        [sys.executable, "-c", _PROBE, url], capture_output=True, text=True, check=True
    )
    assert json.loads(plain.stdout) == {
        "vcr": False,
        "langchain_cloudflare_playground.testing.cassette_transport": False,
    }
    # The probe sees them when they are loaded: under a cassette, both are.
    cassette = str(tmp_path / "probe.yaml")
    recorded = subprocess.run(
        [sys.executable, "-c", _PROBE, url, cassette], capture_output=True, text=True, check=True
    )
    assert json.loads(recorded.stdout) == {
        "vcr": True,
        "langchain_cloudflare_playground.testing.cassette_transport": True,
    }


# The WebSocket's idle timeout and total budget, kept by one watchdog timer per socket rather than
# a timer per wait: a local server sends frames on a schedule of the test's own.

PING = object()  # in a script: the server sends a ping (payload b"still there?")


@dataclasses.dataclass(frozen=True)
class Close:
    """In a script: the server closes the WebSocket with ``code``."""

    code: int


@dataclasses.dataclass
class ScriptedServer:
    """Where a scripted server is, and the pongs it received (their payloads)."""

    url: str
    pongs: list[bytes]


@contextlib.asynccontextmanager
async def _scripted_websocket(script: list[tuple[float, object]], then_wait: float = 60.0):
    """A WebSocket whose server plays ``script``, then goes silent.

    Each step is (seconds to wait first, what to send): a text frame (a str), ``PING`` or a
    ``Close``. The server answers no pings itself and records the pongs it receives.
    """
    from aiohttp import WSMsgType, web

    pongs: list[bytes] = []

    async def record_pongs(websocket):
        async for message in websocket:
            if message.type is WSMsgType.PONG:
                pongs.append(message.data)

    async def handler(request):
        websocket = web.WebSocketResponse(autoping=False)
        await websocket.prepare(request)
        listening = asyncio.create_task(record_pongs(websocket))
        try:
            for gap, step in script:
                if gap:
                    await asyncio.sleep(gap)
                if step is PING:
                    await websocket.ping(b"still there?")
                elif isinstance(step, Close):
                    await websocket.close(code=step.code)
                    return websocket
                else:
                    await websocket.send_str(str(step))
            await asyncio.sleep(then_wait)
        finally:
            listening.cancel()
        return websocket

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield ScriptedServer(f"ws://127.0.0.1:{port}/", pongs)
    finally:
        await runner.cleanup()


def _numbered(gaps: list[float]) -> list[tuple[float, object]]:
    """Text frames "0", "1", ..., each after its gap."""
    return [(gap, str(number)) for number, gap in enumerate(gaps)]


async def _frames_then_outcome(url, **limits):
    """The frames received, the error that ended them, and when it came after the last frame."""
    transport = AiohttpTransport(**limits)
    frames: list[str] = []
    socket = await transport.open_websocket(WebSocketRequest(url))
    last = time.monotonic()
    try:
        while True:
            frames.append(await socket.receive())
            last = time.monotonic()
    except PlaygroundConnectionError as exc:  # a timeout, or a close
        return frames, exc, time.monotonic() - last
    finally:
        await socket.close()
        await transport.aclose()


async def test_websocket_silent_from_the_start_times_out_after_timeout():
    async with _scripted_websocket([]) as server:
        frames, error, silence = await _frames_then_outcome(server.url, timeout=1.0)
    assert frames == []
    assert isinstance(error, PlaygroundTimeoutError)
    assert "no data from the playground for 1 s" in str(error)
    assert 1.0 <= silence < 2.0  # the timeout, once (a second wait would make it 2 s)


async def test_websocket_silent_after_many_frames_times_out_after_timeout():
    async with _scripted_websocket(_numbered([0.0] * 2000)) as server:
        frames, error, silence = await _frames_then_outcome(server.url, timeout=1.0)
    assert frames == [str(n) for n in range(2000)]
    assert isinstance(error, PlaygroundTimeoutError)
    assert "no data from the playground for 1 s" in str(error)
    assert 1.0 <= silence < 2.0  # the timeout, once


async def test_websocket_frames_under_timeout_apart_do_not_time_out():
    # Half the timeout apart: the server sleeps on the same loop, so the gap keeps room for a
    # loop that stalls on a busy machine.
    gaps = [0.0] * 100 + [0.5, 0.5, 0.0, 0.5, 0.5]
    async with _scripted_websocket(_numbered(gaps)) as server:
        frames, error, silence = await _frames_then_outcome(server.url, timeout=1.0)
    assert frames == [str(n) for n in range(len(gaps))]
    assert isinstance(error, PlaygroundTimeoutError)
    assert "no data from the playground for 1 s" in str(error)
    assert 1.0 <= silence < 2.0  # the timeout, once


async def test_websocket_pings_restart_the_idle_timeout_and_are_answered():
    # Pings every third of the timeout for three times the timeout: the server is not silent.
    script = [(0.4, PING)] * 9 + [(0.4, "after the pings")]
    async with _scripted_websocket(script) as server:
        frames, error, silence = await _frames_then_outcome(server.url, timeout=1.2)
        pongs = list(server.pongs)
    assert frames == ["after the pings"]
    assert pongs == [b"still there?"] * 9
    assert isinstance(error, PlaygroundTimeoutError)
    assert 1.2 <= silence < 2.4  # the timeout, once


async def test_websocket_total_timeout_ends_a_trickling_reply():
    started = time.monotonic()
    async with _scripted_websocket(_numbered([0.2] * 100)) as server:
        frames, error, _ = await _frames_then_outcome(server.url, timeout=5.0, total_timeout=1.0)
    elapsed = time.monotonic() - started
    assert 1 <= len(frames) < 100  # frames kept coming: the budget, not silence, ended it
    assert isinstance(error, PlaygroundTimeoutError)
    assert "total_timeout=1 s" in str(error)
    assert 1.0 <= elapsed < 5.0  # the budget, not the 5 s idle timeout (server start included)


async def test_websocket_total_timeout_ends_a_stream_of_pings():
    started = time.monotonic()
    async with _scripted_websocket([(0.2, PING)] * 100) as server:
        frames, error, _ = await _frames_then_outcome(server.url, timeout=5.0, total_timeout=1.0)
    elapsed = time.monotonic() - started
    assert frames == []
    assert isinstance(error, PlaygroundTimeoutError)
    assert "total_timeout=1 s" in str(error)
    assert 1.0 <= elapsed < 5.0  # the budget, not the 5 s idle timeout (server start included)


@pytest.mark.parametrize("gap", [0.0, 0.3], ids=["at-once", "during-a-wait"])
async def test_websocket_close_from_the_server_is_reported_with_its_code(gap):
    script = [*_numbered([0.0, 0.0]), (gap, Close(4000))]
    async with _scripted_websocket(script) as server:
        frames, error, silence = await _frames_then_outcome(server.url, timeout=3.0)
    assert frames == ["0", "1"]
    assert isinstance(error, WebSocketClosedError)
    assert error.code == 4000
    assert silence < 3.0  # reported when it came, not at the idle timeout


async def test_websocket_caller_cancel_is_a_cancel_and_the_socket_reads_on():
    # The caller cancels a wait; the watchdog armed for it fires later, finds no wait and
    # cancels nothing; the next wait is bounded afresh and gets the next frame.
    async with _scripted_websocket(_numbered([0.0, 1.6])) as server:
        transport = AiohttpTransport(timeout=1.0)
        socket = await transport.open_websocket(WebSocketRequest(server.url))
        try:
            assert await socket.receive() == "0"
            waiting = asyncio.create_task(socket.receive())
            await asyncio.sleep(0.2)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            # Past the cancelled wait's due time: a stray cut would cancel this sleep.
            await asyncio.sleep(1.1)
            assert await socket.receive() == "1"
        finally:
            started = time.monotonic()
            await socket.close()
            await transport.aclose()
        assert time.monotonic() - started < 5  # the close handshake, bounded (2 s at most)


async def test_websocket_caller_timeout_is_the_callers_and_the_socket_reads_on():
    # The caller's own asyncio.timeout cuts a wait the transport also bounds: the caller sees its
    # own TimeoutError, its task is not left cancelled, and the socket's next wait is bounded
    # afresh (the watchdog, which fires meanwhile, cuts nothing).
    async with _scripted_websocket(_numbered([0.0, 1.2])) as server:
        transport = AiohttpTransport(timeout=0.8)
        socket = await transport.open_websocket(WebSocketRequest(server.url))
        try:
            assert await socket.receive() == "0"
            with pytest.raises(TimeoutError) as caught:
                async with asyncio.timeout(0.2):
                    await socket.receive()
            assert not isinstance(caught.value, PlaygroundTimeoutError)
            assert asyncio.current_task().cancelling() == 0
            await asyncio.sleep(0.5)
            assert await socket.receive() == "1"
        finally:
            await socket.close()
            await transport.aclose()
