"""Transports are handed in: a caller's own transport carries every request, in the client and
in both adapters, and the cassette transport is loaded only while a cassette is in use."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import textwrap

import pytest
from llama_index.core.base.llms.types import ChatMessage

from langchain_cloudflare_playground import ChatCloudflarePlayground
from langchain_cloudflare_playground.client import (
    AiohttpTransport,
    HttpResponse,
    PlaygroundClient,
    PlaygroundConnectionError,
    TextDelta,
)
from llama_index_cloudflare_playground import CloudflarePlayground


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
    assert len(models) == 29
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
