"""Events that arrive together travel together: the sync twins, the batched iterator.

Against the reference server, for both HTTP wire formats. What is checked is what a caller sees:
every event, in order, nothing merged, the first not waiting for the rest, early stops and
failures as before.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from llama_index.core.base.llms.types import ChatMessage

from langchain_cloudflare_playground import ChatCloudflarePlayground
from langchain_cloudflare_playground.client import (
    PlaygroundClient,
    PlaygroundConnectionError,
    PlaygroundStreamError,
    TextDelta,
)
from llama_index_cloudflare_playground import CloudflarePlayground
from tests.helpers import ADD
from tests.reference_server import Fault

LONG = "[long:6000]"  # more than the sync twin reads ahead of its caller
LONG_2000 = "[long:2000]"


async def _collect(client: PlaygroundClient, prompt: str) -> list[object]:
    return [event async for event in client.astream_chat(prompt)]


def test_sync_stream_gives_every_event_of_a_long_reply_in_order(server):
    client = PlaygroundClient(server.url)
    try:
        expected = asyncio.run(_collect(client, LONG))
        streamed = list(client.stream_chat(LONG))
    finally:
        client.close()
    assert len(expected) == 6001  # 6,000 text chunks and the finish
    assert streamed == expected
    assert [e.text for e in streamed[:3]] == ["t0 ", "t1 ", "t2 "]  # type: ignore[attr-defined]


def test_sync_first_token_does_not_wait_for_the_rest(server):
    with PlaygroundClient(server.url) as client:
        client.chat("warm up")
        server.push(Fault(reply=["a", "b", "c", "d"], chunk_delay=0.4))
        stream = client.stream_chat("x")
        first = next(stream)
        # The first chunk reached the caller while the server was still writing the reply.
        still_writing = not server.stream(1).ended.is_set()
        rest = list(stream)
    assert first == TextDelta("a")
    assert [e.text for e in rest[:3]] == ["b", "c", "d"]  # type: ignore[attr-defined]
    assert still_writing


def test_sync_stream_stopped_early_releases_its_connection(server):
    with PlaygroundClient(server.url) as client:
        for _ in range(3):  # the reader waits for room: the caller took one of 20,000
            stream = client.stream_chat("[long:20000]")
            assert next(stream) == TextDelta("t0 ")
            stream.close()
        server.push(Fault(reply=["a", "b", "c"], chunk_delay=2.0))
        stream = client.stream_chat("x")  # the reader waits for the network
        started = time.monotonic()
        assert next(stream) == TextDelta("a")
        stream.close()
        assert time.monotonic() - started < 3.5  # closing did not wait for the reply
        loop = client._background.loop
        assert loop is not None
        connector = client._router.direct._by_loop[loop].session.connector
        assert connector is not None
        assert not connector._acquired  # no abandoned reply holds a connection
        assert client.chat("after").text.startswith("Echo: after")


def test_sync_stream_gives_what_arrived_then_the_error(server):
    server.push(Fault(reply=["part", "ial", "!"], cut_after=2))
    seen: list[object] = []
    with PlaygroundClient(server.url) as client, pytest.raises(PlaygroundStreamError) as info:
        for event in client.stream_chat("x"):
            seen.append(event)  # noqa: PERF402 (keeps what arrived before the error)
    assert seen == [TextDelta("part"), TextDelta("ial")]
    assert info.value.partial_text == "partial"
    assert isinstance(info.value.__cause__, PlaygroundConnectionError)


# -- the opt-in batched iterator --------------------------------------------------------------


async def test_batches_hold_exactly_the_events_of_astream_chat(each_wire_format):
    async with PlaygroundClient(each_wire_format.url) as client:
        events = [e async for e in client.astream_chat("[long:3000]")]
        batches = [b async for b in client.astream_chat_batches("[long:3000]")]
    assert all(batches)  # never an empty batch
    assert [e for batch in batches for e in batch] == events
    assert len(events) == 3001


async def test_a_long_http_reply_arrives_in_few_batches(server):
    async with PlaygroundClient(server.url) as client:
        batches = [b async for b in client.astream_chat_batches("[long:3000]")]
    # The server writes 64 lines at a time: each read brings many events, and they travel on
    # together rather than one per step.
    assert len(batches) < 3001 / 10


async def test_a_batch_is_what_arrived_never_a_wait_for_more(server):
    async with PlaygroundClient(server.url) as client:
        await client.achat("warm up")
        server.push(Fault(reply=["a", "b", "c"], chunk_delay=0.4))
        started = time.monotonic()
        batches = client.astream_chat_batches("x")
        first = await anext(batches)
        first_at = time.monotonic() - started
        rest = [e async for batch in batches for e in batch]
    assert first == [TextDelta("a")]
    assert first_at < 0.8  # one delay, not the three of the whole reply
    assert [e.text for e in rest[:2]] == ["b", "c"]  # type: ignore[attr-defined]


async def test_with_tools_offered_prose_travels_in_batches_too(each_wire_format):
    # The tool-calling path holds back what may be a call, and passes the rest on a read at a
    # time: the same events as one at a time, in few batches.
    async with PlaygroundClient(each_wire_format.url) as client:
        events = [e async for e in client.astream_chat("[long:3000]", tools=[ADD])]
        batches = [b async for b in client.astream_chat_batches("[long:3000]", tools=[ADD])]
    assert all(batches)
    assert [e for batch in batches for e in batch] == events
    assert len(events) == 3001
    assert events[0] == TextDelta("t0 ")
    if each_wire_format.wire_format != "agents":  # (Agents frames come one chunk a frame)
        assert len(batches) < 3001 / 10


async def test_a_tool_stream_stopped_early_releases_its_connection(server):
    async with PlaygroundClient(server.url) as client:
        await client.achat("warm up")  # the wire format is known: one request, the one below
        server.push(Fault(reply=["a", "b", "c"], chunk_delay=2.0))
        stream = client.astream_chat("x", tools=[ADD])
        started = time.monotonic()
        assert await anext(stream) == TextDelta("a")
        await stream.aclose()
        assert time.monotonic() - started < 3.5  # closing did not wait for the reply
        connector = client._router.direct._by_loop[asyncio.get_running_loop()].session.connector
        assert connector is not None
        assert not connector._acquired  # no abandoned reply holds a connection
        assert (await client.achat("after")).text.startswith("Echo: after")


def test_sync_batches_hold_the_events_of_stream_chat(server):
    with PlaygroundClient(server.url) as client:
        batches = list(client.stream_chat_batches("[long:3000]"))
        events = list(client.stream_chat("[long:3000]"))
    assert all(batches)
    assert [e for batch in batches for e in batch] == events


async def test_an_error_after_text_in_the_same_read_keeps_the_text(server):
    # The error line arrives in the same read as the text before it: that text still reaches
    # the caller first, and the failure carries it, as when events travelled one at a time.
    async with PlaygroundClient(server.url, max_retries=0) as client:
        server.push(Fault(reply=["a", "b", "c"], error_after=(2, "boom"), split_at=(1,)))
        seen: list[object] = []
        with pytest.raises(PlaygroundStreamError) as info:
            async for event in client.astream_chat("x"):
                seen.append(event)
    assert seen == [TextDelta("a"), TextDelta("b")]
    assert info.value.partial_text == "ab"


# -- the adapters: a chunk per chunk the model sent, however they arrived ---------------------


class _Tokens(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: str, **kwargs: object) -> None:
        self.tokens.append(token)


async def test_langchain_fires_one_callback_per_model_chunk(server):
    model = ChatCloudflarePlayground(base_url=server.url, wire_format="http")
    expected = [f"t{i} " for i in range(2000)]
    sync_tokens, async_tokens = _Tokens(), _Tokens()
    sync_chunks = await asyncio.to_thread(
        lambda: [c.text for c in model.stream(LONG_2000, config={"callbacks": [sync_tokens]})]
    )
    async_chunks = [
        c.text async for c in model.astream(LONG_2000, config={"callbacks": [async_tokens]})
    ]
    for chunks, handler in ((sync_chunks, sync_tokens), (async_chunks, async_tokens)):
        assert [text for text in chunks if text] == expected
        # (LangChain itself calls back once more with the empty closing chunk.)
        assert [token for token in handler.tokens if token] == expected
    await model.client.aclose()


async def test_langchain_stops_at_a_stop_sequence_inside_a_batch(server):
    model = ChatCloudflarePlayground(base_url=server.url, wire_format="http", stop=["t5 "])
    async_text = "".join([c.text async for c in model.astream(LONG_2000)])
    sync_text = await asyncio.to_thread(lambda: "".join(c.text for c in model.stream(LONG_2000)))
    await model.client.aclose()
    assert async_text == sync_text == "t0 t1 t2 t3 t4 "


async def test_llama_index_yields_one_response_per_model_chunk(server):
    llm = CloudflarePlayground(base_url=server.url, wire_format="http")
    messages = [ChatMessage(role="user", content=LONG_2000)]
    expected = [f"t{i} " for i in range(2000)]
    async_deltas = [r.delta async for r in await llm.astream_chat(messages)]
    sync_deltas = await asyncio.to_thread(lambda: [r.delta for r in llm.stream_chat(messages)])
    for deltas in (async_deltas, sync_deltas):
        assert [d for d in deltas if d] == expected
    await llm.client.aclose()


def test_closing_the_client_while_a_thread_streams_ends_that_stream(server):
    client = PlaygroundClient(server.url, timeout=30)
    client.chat("warm up")
    server.push(Fault(reply=["a", "b", "c"], stall_after=(1, 20)))
    outcome: list[object] = []

    def stream() -> None:
        try:
            outcome.extend(client.stream_chat("x"))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=stream)
    worker.start()
    stalled = server.stream(1)  # after the warm-up's
    stalled.wait_stalling()  # the reader waits for the stalled server, the thread for the reader
    started = time.monotonic()
    client.close()
    worker.join(5)
    assert not worker.is_alive()  # told at once, not left waiting for the server (20 s)
    assert time.monotonic() - started < 5
    assert outcome[0] == TextDelta("a")
    assert isinstance(outcome[-1], BaseException)
    assert stalled.wait_ended() == "reader gone"  # the connection was let go
    assert stalled.lines_written == 1
