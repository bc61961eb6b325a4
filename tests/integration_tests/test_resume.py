"""A dropped connection loses nothing: replies resumed in their room, against the real SDK server.

A cutting proxy (``tests/cutting_proxy.py``) sits between the client and the real Agents SDK
server in workerd and drops the WebSocket at points spread over a reply. A slow scripted reply
(``[drip:N:MS]``) is still running when the client comes back (resumed by the SDK's replay); a
fast one has finished (read from the room's stored messages). Either way the caller must get the
text of an uncut run exactly once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time

import aiohttp
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tools import tool
from llama_index.core.llms import ChatMessage

from langchain_cloudflare_playground import ChatCloudflarePlayground
from langchain_cloudflare_playground.client import (
    Finish,
    ImagePart,
    PlaygroundClient,
    PlaygroundConnectionError,
    PlaygroundStreamError,
    ReasoningDelta,
    TextDelta,
)
from langchain_cloudflare_playground.client.drivers import agents_driver
from langchain_cloudflare_playground.client.drivers.agents_driver import RECONNECT_DELAYS
from llama_index_cloudflare_playground import CloudflarePlayground
from tests.cutting_proxy import Cut, CuttingProxy
from tests.sample_images import VISION_MODEL, images_reported, jpeg, png, reported


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


SLOW = "Count for me [drip:30:40]"  # 30 deltas "d0 " ... "d29 ", 40 ms apart: ~1.2 s
TIMEOUT = 10.0  # the client's idle timeout: a drop it noticed only by silence would cost this
SLOWER = "Count for me [drip:80:40]"  # still running after two reconnects' backoff
FAST = "Name a colour"  # the echo, ~14 deltas at once
REASONING = "Think first [reasoning]"

# Where to cut, over the reply: the frames' payloads are the SDK's JSON, the chunk inside it
# JSON-encoded again (hence the escaped quotes).
CUT_POINTS = {
    "before-first-delta": Cut(match='text-delta\\"', nth=1),
    "mid-delta-frame": Cut(match='text-delta\\"', nth=5, keep_bytes=40),
    "after-some-deltas-fin": Cut(match='text-delta\\"', nth=8, reset=False),
    "between-text-and-finish": Cut(match='text-end\\"'),
    "after-finish-before-done": Cut(match='"done":true,"id":"chat-1"'),
}


async def _run(url: str, prompt: str, transport: str = "direct") -> tuple[str, str, Finish, float]:
    started = time.monotonic()
    text, reasoning, finish = [], [], None
    async with PlaygroundClient(
        url, wire_format="agents", timeout=TIMEOUT, max_retries=0, transport=transport
    ) as client:
        async for event in client.astream_chat([{"role": "user", "content": prompt}]):
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, ReasoningDelta):
                reasoning.append(event.text)
            elif isinstance(event, Finish):
                finish = event
    assert finish is not None
    return "".join(text), "".join(reasoning), finish, time.monotonic() - started


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture(scope="module")
def uncut(agents_server):
    """The reply to each prompt with no cut, and how long it took."""
    return {
        prompt: asyncio.run(_run(agents_server.url, prompt)) for prompt in (SLOW, FAST, REASONING)
    }


@pytest.fixture(scope="module")
def uncut_per_transport(agents_server, uncut):
    """The same, per transport: direct (``uncut``) and Chrome-impersonating."""
    impersonating = {
        prompt: asyncio.run(_run(agents_server.url, prompt, "impersonate"))
        for prompt in (SLOW, FAST)
    }
    return {"direct": uncut, "impersonate": impersonating}


@pytest.mark.parametrize("transport", ["direct", "impersonate"])
@pytest.mark.parametrize("prompt", [SLOW, FAST], ids=["running", "finished"])
@pytest.mark.parametrize("point", list(CUT_POINTS))
async def test_a_cut_reply_arrives_whole_exactly_once(  # noqa: PLR0917 (fixtures come by name)
    agents_server, uncut_per_transport, transport, prompt, point, caplog
):
    whole, _, whole_finish, whole_took = uncut_per_transport[transport][prompt]
    fds = _open_fds()
    caplog.set_level(logging.INFO, "langchain_cloudflare_playground")
    async with CuttingProxy(agents_server.port, [CUT_POINTS[point]]) as proxy:
        text, _, finish, took = await _run(proxy.url, prompt, transport)
    assert proxy.cuts_made == 1
    assert text == whole
    assert finish.reason == whole_finish.reason == "stop"
    assert finish.reconnects == 1
    assert any(
        "resumed the running reply" in r.message or "stored messages" in r.message
        for r in caplog.records
    )
    # The drop was seen at once (not by the idle timeout's silence) and cost one backoff.
    assert RECONNECT_DELAYS[0] <= took < whole_took + RECONNECT_DELAYS[0] + TIMEOUT / 2, took
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    assert _open_fds() <= fds


@pytest.mark.parametrize(
    ("prompt", "how"),
    [("What is it? [pace:60]", "resumed the running reply"), ("What is it?", "stored messages")],
    ids=["running", "finished"],
)
async def test_a_cut_reply_about_images_arrives_whole(agents_server, prompt, how, caplog):
    # The history holds an image in an earlier turn and one in the request; the reply (the echo,
    # which reports both) is cut while running, or after it finished.
    first, second = jpeg(seed=71), png(seed=72)
    conversation = [
        {"role": "user", "content": ["This one.", ImagePart.from_bytes(first)]},
        {"role": "assistant", "content": "A JPEG."},
        {"role": "user", "content": [prompt, ImagePart.from_bytes(second)]},
    ]

    async def run(url: str) -> tuple[str, Finish]:
        async with PlaygroundClient(
            url, wire_format="agents", timeout=TIMEOUT, max_retries=0, model=VISION_MODEL
        ) as client:
            events = [e async for e in client.astream_chat(conversation)]
        assert isinstance(events[-1], Finish)
        return "".join(e.text for e in events if isinstance(e, TextDelta)), events[-1]

    whole, _ = await run(agents_server.url)
    caplog.set_level(logging.INFO, "langchain_cloudflare_playground")
    async with CuttingProxy(agents_server.port, [CUT_POINTS["mid-delta-frame"]]) as proxy:
        text, finish = await run(proxy.url)
    assert proxy.cuts_made == 1
    assert finish.reconnects == 1
    assert [r for r in caplog.records if how in r.message]
    assert text == whole
    assert images_reported(text) == [
        reported(first, "image/jpeg", 1),
        reported(second, "image/png", 2),
    ]
    assert finish.reason == "stop"


async def test_a_running_reply_is_resumed_by_replay_not_read_from_storage(agents_server, caplog):
    caplog.set_level(logging.INFO, "langchain_cloudflare_playground")
    async with CuttingProxy(agents_server.port, [CUT_POINTS["mid-delta-frame"]]) as proxy:
        await _run(proxy.url, SLOW)
    assert [r for r in caplog.records if "resumed the running reply" in r.message]


async def test_a_finished_reply_is_read_from_the_rooms_stored_messages(agents_server, caplog):
    caplog.set_level(logging.INFO, "langchain_cloudflare_playground")
    async with CuttingProxy(agents_server.port, [CUT_POINTS["mid-delta-frame"]]) as proxy:
        await _run(proxy.url, FAST)
    assert [r for r in caplog.records if "stored messages" in r.message]


@pytest.mark.parametrize("point", ["mid-reasoning", "between-reasoning-and-text"])
async def test_reasoning_is_resumed_too(agents_server, uncut, point):
    whole_text, whole_reasoning, _, _ = uncut[REASONING]
    cut = (
        Cut(match='reasoning-delta\\"', nth=4)
        if point == "mid-reasoning"
        else Cut(match='reasoning-end\\"')
    )
    async with CuttingProxy(agents_server.port, [cut]) as proxy:
        text, reasoning, finish, _ = await _run(proxy.url, REASONING)
    assert (text, reasoning) == (whole_text, whole_reasoning)
    assert finish.reconnects == 1


async def test_two_drops_in_one_reply(agents_server, uncut):
    whole = uncut[SLOW][0]
    # The second connection replays from the start: its 12th delta is the reply's 12th.
    plan = [Cut(match='text-delta\\"', nth=5), Cut(match='text-delta\\"', nth=12)]
    async with CuttingProxy(agents_server.port, plan) as proxy:
        text, _, finish, _ = await _run(proxy.url, SLOW)
    assert proxy.cuts_made == 2
    assert text == whole
    assert finish.reconnects == 2


async def test_a_drop_during_the_resume_itself(agents_server, uncut):
    whole = uncut[SLOW][0]
    plan = [Cut(match='text-delta\\"', nth=5), Cut(match='"replay":true', nth=1)]
    async with CuttingProxy(agents_server.port, plan) as proxy:
        text, _, finish, _ = await _run(proxy.url, SLOW)
    assert proxy.cuts_made == 2
    assert text == whole
    assert finish.reconnects == 2


async def test_a_third_drop_ends_in_the_stream_error_with_what_arrived(agents_server):
    plan = [Cut(match='text-delta\\"', nth=n, reset=False) for n in (5, 10, 15)]
    received = []
    async with (
        CuttingProxy(agents_server.port, plan) as proxy,
        PlaygroundClient(proxy.url, wire_format="agents", timeout=10) as client,
    ):
        with pytest.raises(PlaygroundStreamError) as caught:
            async for event in client.astream_chat([{"role": "user", "content": SLOWER}]):
                if isinstance(event, TextDelta):
                    received.append(event.text)
    assert proxy.cuts_made == 3
    # Each replay starts over: the 15th delta of the third is the reply's 15th (a clean close
    # delivers all before it; a reset may take sent bytes with it).
    assert caught.value.partial_text == "".join(received) == "".join(f"d{i} " for i in range(14))


async def test_a_server_without_resume_still_gives_a_finished_reply(agents_server, uncut):
    whole = uncut[FAST][0]
    async with CuttingProxy(agents_server.port, [CUT_POINTS["mid-delta-frame"]]) as proxy:
        base = f"{proxy.url}/variant/playground-without-resume"
        text, _, finish, _ = await _run(base, FAST)
    assert text == whole
    assert finish.reconnects == 1


async def test_a_request_the_room_holds_is_never_sent_again(agents_server):
    # Cut before any text, on a server without resume: the room holds the request, so the
    # retry policy (two retries here) must not send it again: one room, one user message.
    async with CuttingProxy(agents_server.port, [CUT_POINTS["before-first-delta"]]) as proxy:
        base = f"{proxy.url}/variant/playground-without-resume"
        async with PlaygroundClient(base, wire_format="agents", timeout=10) as client:
            with pytest.raises(PlaygroundConnectionError) as caught:
                await client.achat(SLOW)
        rooms = set(_rooms(proxy))
    assert caught.value.request_delivered
    assert len(rooms) == 1
    messages_url = (
        f"{agents_server.url}/agents/playground-without-resume/{rooms.pop()}/get-messages"
    )
    async with aiohttp.ClientSession() as session, session.get(messages_url) as response:
        stored = await response.json()
    assert [m["role"] for m in stored].count("user") == 1


async def test_a_server_without_resume_gives_the_old_error_for_a_running_reply(agents_server):
    received = []
    async with CuttingProxy(agents_server.port, [CUT_POINTS["mid-delta-frame"]]) as proxy:
        base = f"{proxy.url}/variant/playground-without-resume"
        async with PlaygroundClient(base, wire_format="agents", timeout=10) as client:
            with pytest.raises(PlaygroundStreamError) as caught:
                async for event in client.astream_chat([{"role": "user", "content": SLOW}]):
                    if isinstance(event, TextDelta):
                        received.append(event.text)
    assert caught.value.partial_text == "".join(received) == "d0 d1 d2 d3 "


def _rooms(proxy: CuttingProxy) -> list[str]:
    """The rooms the client connected to through ``proxy``, in order."""
    return [
        line.split()[1].split("?")[0].rsplit("/", 1)[1]
        for line in proxy.request_lines
        if "/agents/playground/" in line and "get-messages" not in line
    ]


async def _stored_text(url: str, room: str) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/agents/playground/{room}/get-messages") as response,
    ):
        messages = await response.json()
    return "".join(
        part.get("text", "")
        for message in messages
        if message["role"] == "assistant"
        for part in message["parts"]
        if part["type"] == "text"
    )


async def test_every_reconnect_goes_to_the_same_room_and_never_resends_the_chat(agents_server):
    plan = [Cut(match='text-delta\\"', nth=5), Cut(match='"replay":true', nth=1)]
    async with CuttingProxy(agents_server.port, plan) as proxy:
        await _run(proxy.url, SLOW)
        rooms = _rooms(proxy)
    assert len(rooms) == 3
    assert len(set(rooms)) == 1
    # One reply in the room: the chat request went out once.
    stored = await _stored_text(agents_server.url, rooms[0])
    assert stored == "".join(f"d{i} " for i in range(30))


async def test_a_resumed_reply_the_caller_stops_reading_is_cancelled(agents_server):
    async def read_some(url: str, prompt: str, deltas: int | None) -> None:
        async with PlaygroundClient(url, wire_format="agents", timeout=10) as client:
            stream = client.astream_chat([{"role": "user", "content": prompt}])
            count = 0
            async for event in stream:
                count += isinstance(event, TextDelta)
                if deltas is not None and count == deltas:
                    await stream.aclose()
                    break

    async with CuttingProxy(agents_server.port, [Cut(match='text-delta\\"', nth=5)]) as proxy:
        await read_some(proxy.url, SLOW, deltas=10)  # stops after the resume
        stopped = _rooms(proxy)[0]
    async with CuttingProxy(agents_server.port, [Cut(match='text-delta\\"', nth=5)]) as proxy:
        await read_some(proxy.url, SLOW, deltas=None)  # the same, read to its end
        whole = _rooms(proxy)[0]
    # The server's own word on each reply: the stopped one was cancelled before its end.
    assert await asyncio.to_thread(agents_server.stream_end, whole) == {
        "room": whole,
        "ended": "finished",
        "written": 30,
        "total": 30,
    }
    ended = await asyncio.to_thread(agents_server.stream_end, stopped)
    assert ended["ended"] == "cancelled"
    assert 10 <= ended["written"] < 30


# -- the adapters: one uninterrupted stream ----------------------------------------------------

ADAPTER_CUTS = {
    "running": (SLOW, Cut(match='text-delta\\"', nth=6, keep_bytes=30)),
    "finished": (FAST, Cut(match='text-delta\\"', nth=6, keep_bytes=30)),
}


class _Tokens(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: str, **_: object) -> None:
        self.tokens.append(token)


@pytest.mark.parametrize("case", list(ADAPTER_CUTS))
async def test_langchain_streams_a_cut_reply_whole(agents_server, uncut, case):
    prompt, cut = ADAPTER_CUTS[case]
    whole = uncut[prompt][0]
    tokens = _Tokens()
    async with CuttingProxy(agents_server.port, [cut]) as proxy:
        llm = ChatCloudflarePlayground(base_url=proxy.url, wire_format="agents", max_retries=0)
        chunks = [c async for c in llm.astream(prompt, config={"callbacks": [tokens]})]
    assert "".join(str(c.content) for c in chunks) == whole
    assert "".join(tokens.tokens) == whole
    assert chunks[-1].response_metadata["reconnects"] == 1
    assert chunks[-1].response_metadata["finish_reason"] == "stop"


def test_langchain_sync_stream_of_a_cut_reply(agents_server, uncut):
    prompt, cut = ADAPTER_CUTS["running"]

    async def run() -> tuple[list[str], int]:
        async with CuttingProxy(agents_server.port, [cut]) as proxy:
            llm = ChatCloudflarePlayground(base_url=proxy.url, wire_format="agents")
            chunks = await asyncio.to_thread(lambda: list(llm.stream(prompt)))
            return [str(c.content) for c in chunks], chunks[-1].response_metadata["reconnects"]

    texts, reconnects = asyncio.run(run())
    assert "".join(texts) == uncut[prompt][0]
    assert reconnects == 1


@pytest.mark.parametrize("slow", [True, False], ids=["running", "finished"])
async def test_langchain_tool_call_chunks_of_a_cut_reply(agents_server, slow):
    prompt = ("[slow:40] " if slow else "") + "What is 6 times 7? Use multiply."
    cut = Cut(match='text-delta\\"', nth=3, keep_bytes=30)
    async with CuttingProxy(agents_server.port, [cut]) as proxy:
        llm = ChatCloudflarePlayground(base_url=proxy.url, wire_format="agents", max_retries=0)
        bound = llm.bind_tools([multiply])
        chunks = [chunk async for chunk in bound.astream(prompt)]
    assert proxy.cuts_made == 1
    call_chunks = [c for chunk in chunks for c in chunk.tool_call_chunks]
    assert len(call_chunks) == 1
    assert json.loads(call_chunks[0]["args"]) == {"a": 6, "b": 7}
    assert chunks[-1].response_metadata["reconnects"] == 1
    assert chunks[-1].response_metadata["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("case", list(ADAPTER_CUTS))
async def test_llama_index_streams_a_cut_reply_whole(agents_server, uncut, case):
    prompt, cut = ADAPTER_CUTS[case]
    whole = uncut[prompt][0]
    async with CuttingProxy(agents_server.port, [cut]) as proxy:
        llm = CloudflarePlayground(base_url=proxy.url, wire_format="agents", max_retries=0)
        stream = await llm.astream_chat([ChatMessage(role="user", content=prompt)])
        responses = [r async for r in stream]
    assert "".join(r.delta or "" for r in responses) == whole
    assert responses[-1].message.content == whole
    assert responses[-1].additional_kwargs["reconnects"] == 1


@pytest.mark.parametrize(
    "case",
    [(2.0, 5.0, False), (1.5, None, True)],
    ids=["no-time-to-reconnect", "resumed"],
)
async def test_reconnects_stay_inside_the_total_timeout(agents_server, case, caplog, monkeypatch):
    total, backoff, resumed = case
    # No time to reconnect: a backoff longer than the whole total_timeout, so that whenever the
    # cut comes (early on a quiet machine, later on a busy one), waiting for it would overrun.
    if backoff is not None:
        monkeypatch.setattr(agents_driver, "RECONNECT_DELAYS", (backoff, backoff))
    caplog.set_level(logging.INFO, "langchain_cloudflare_playground")
    started = time.monotonic()
    async with (
        CuttingProxy(agents_server.port, [Cut(match='text-delta\\"', nth=5)]) as proxy,
        PlaygroundClient(
            proxy.url, wire_format="agents", timeout=10, total_timeout=total
        ) as client,
    ):
        with pytest.raises(PlaygroundStreamError) as caught:
            await client.achat(SLOWER)  # 3.2 s in all
    took = time.monotonic() - started
    # Bounded by total_timeout (with room for a busy machine), not by the reply: 3.2 s in all.
    assert took < total + 1.0 < 3.2
    assert caught.value.partial_text.startswith("d0 d1 d2 d3 ")
    assert bool([r for r in caplog.records if "resumed the running reply" in r.message]) is resumed
    if resumed:
        assert "total_timeout=1.5 s" in str(caught.value)
    else:  # given up at the drop, not by waiting until the time ran out
        assert "total_timeout" not in str(caught.value)


async def test_a_caller_who_leaves_during_the_reconnect_cancels_the_reply(agents_server):
    async with CuttingProxy(agents_server.port, [Cut(match='text-delta\\"', nth=5)]) as proxy:
        async with PlaygroundClient(proxy.url, wire_format="agents", timeout=10) as client:

            async def read() -> None:
                async for _ in client.astream_chat(SLOW):
                    pass

            task = asyncio.create_task(read())
            while not proxy.cuts_made:
                await asyncio.sleep(0.005)
            # Aimed at the first reconnect's 0.2 s backoff; on a busy machine the caller may leave
            # just before or after it, and the reply must be cancelled all the same.
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        room = _rooms(proxy)[0]
    # The server's own word: the reply was cancelled, not run to its end.
    ended = await asyncio.to_thread(agents_server.stream_end, room)
    assert ended["ended"] == "cancelled"
    assert ended["written"] < 30
