"""Events that arrive together travel together: the sync twins, the batched iterator.

Against the reference server, for both HTTP wire formats. What is checked is what a caller sees:
every event, in order, nothing merged, the first not waiting for the rest, early stops and
failures as before.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from langchain_cloudflare_playground.client import (
    PlaygroundClient,
    PlaygroundConnectionError,
    PlaygroundStreamError,
    TextDelta,
)
from tests.reference_server import Fault

LONG = "[long:6000]"  # more than the sync twin reads ahead of its caller


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
        started = time.monotonic()
        stream = client.stream_chat("x")
        first = next(stream)
        first_at = time.monotonic() - started
        rest = list(stream)
        total = time.monotonic() - started
    assert first == TextDelta("a")
    assert [e.text for e in rest[:3]] == ["b", "c", "d"]  # type: ignore[attr-defined]
    # The first chunk leaves the server after one delay, the last after four.
    assert first_at < 1.0
    assert total > 1.5


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
