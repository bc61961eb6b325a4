"""Agents frames against the real Cloudflare Agents SDK server in local workerd (wrangler dev)."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import traceback
import uuid

import aiohttp
import pytest

import langchain_cloudflare_playground.client.drivers.agents_driver as agents_module
from langchain_cloudflare_playground.client import (
    ChallengeError,
    Finish,
    NotFoundError,
    PlaygroundAPIError,
    PlaygroundClient,
    PlaygroundStreamError,
    PlaygroundTimeoutError,
    RateLimitError,
    ReasoningDelta,
    TextDelta,
)
from langchain_cloudflare_playground.client.drivers.agents_driver import RECONNECT_DELAYS
from langchain_cloudflare_playground.client.transports.aiohttp_transport import (
    _CLOSE_SECONDS as CLOSE_SECONDS,
)
from tests.agents_worker import CHAT_MODEL_COUNT
from tests.helpers import echo_fields, request_outcome, settled
from tests.reference_server import Fault

HISTORY = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello"},
    {"role": "user", "content": "Name a colour"},
]


@pytest.fixture
async def ws_client(agents_server):
    async with PlaygroundClient(agents_server.url, wire_format="agents", timeout=10) as client:
        yield client


async def test_chat_history_system_prompt_and_settings_reach_the_model(ws_client):
    events = [e async for e in ws_client.astream_chat(HISTORY, temperature=0.25)]
    texts = [e for e in events if isinstance(e, TextDelta)]
    assert len(texts) > 5
    assert isinstance(events[-1], Finish)
    assert events[-1] == Finish("stop", None, "@cf/meta/llama-3.3-70b-instruct-fp8-fast")
    fields = echo_fields("".join(t.text for t in texts))
    assert fields["model"] == "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
    assert fields["temperature"] == "0.25"
    assert fields["system (state)"] == "Be brief."
    assert fields["system (messages)"] == "(none)"  # sent once, not twice
    assert fields["messages"] == "3"
    assert fields["roles"] == "user,assistant,user"
    assert fields["last user"] == "Name a colour"


async def test_each_conversation_gets_a_fresh_room(ws_client):
    # Rooms keep history on the server; a reused room would make it grow.
    for _ in range(3):
        reply = await ws_client.achat(HISTORY)
        assert echo_fields(reply.text)["messages"] == "3"


async def test_model_override_by_alias(ws_client):
    reply = await ws_client.achat("hi", model="llama-3.1-8b")
    assert reply.model == "@cf/meta/llama-3.1-8b-instruct-fp8"
    assert echo_fields(reply.text)["model"] == "@cf/meta/llama-3.1-8b-instruct-fp8"


async def test_reasoning_model_keeps_reasoning_apart(ws_client):
    events = [e async for e in ws_client.astream_chat("why?", model="qwq-32b")]
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert reasoning.startswith("Let me think about this.")
    assert text.startswith("Echo from the mock model.")
    assert "Let me think" not in text
    kinds = [type(e) for e in events]
    assert kinds.index(ReasoningDelta) < kinds.index(TextDelta)


async def test_identical_consecutive_chunks_are_all_kept(ws_client):
    assert (await ws_client.achat("[repeat-newline]")).text == "a\n\nb"


async def test_finish_reason_length(ws_client):
    assert (await ws_client.achat("[length]")).finish_reason == "length"


async def test_no_response_is_an_empty_reply_not_a_hang(ws_client):
    reply = await ws_client.achat("[no-response]")
    assert reply.text == ""


async def test_list_models_keeps_chat_models_and_derives_aliases(ws_client):
    models = await ws_client.alist_models()
    assert len(models) == CHAT_MODEL_COUNT
    by_alias = {m.alias: m for m in models}
    assert by_alias["llama-3.3-70b"].id == "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
    assert by_alias["llama-3.3-70b"].context_window == 24000
    assert by_alias["qwq-32b"].task == "Text Generation"
    assert all(m.task == "Text Generation" for m in models)
    assert "@cf/black-forest-labs/flux-1-schnell" not in {m.id for m in models}


async def test_error_before_text(ws_client):
    with pytest.raises(PlaygroundAPIError, match="An error occurred") as info:
        await ws_client.achat("[error-before-text]")
    assert not isinstance(info.value, PlaygroundStreamError)


async def test_unknown_model_id_is_reported_by_the_server(ws_client):
    with pytest.raises(PlaygroundAPIError, match="5007: No such model"):
        await ws_client.achat("hi", model="@cf/nobody/no-such-model")


async def test_error_after_text_keeps_the_partial_text(ws_client):
    received = []
    with pytest.raises(PlaygroundStreamError, match="An error occurred") as info:
        async for event in ws_client.astream_chat("[error-after-text]"):
            if isinstance(event, TextDelta):
                received.append(event.text)
    assert info.value.partial_text == "Partial answer before the failure" == "".join(received)


async def test_rate_limit_is_typed_and_carries_the_details(agents_server):
    async with PlaygroundClient(agents_server.url, wire_format="agents", max_retries=0) as client:
        with pytest.raises(RateLimitError, match="3021: rate limiting"):
            await client.achat("[rate-limit]")


async def test_idle_timeout_on_a_stalled_stream(agents_server, caplog):
    caplog.set_level(logging.INFO, "langchain_cloudflare_playground")
    async with PlaygroundClient(
        agents_server.url, wire_format="agents", timeout=1, max_retries=0
    ) as client:
        started = time.monotonic()
        with pytest.raises(PlaygroundTimeoutError, match="no data from the playground for 1 s"):
            await client.achat("[slow:8000]")  # 8 s before the first text
        # Silence counts as a dropped connection: the reply is resumed in its room twice (each
        # connection waits 1 s, after backoffs of 0.2 s and 0.8 s), then the timeout is final,
        # before the reply's first text (8 s) would have come.
        took = time.monotonic() - started
        resumes = [r for r in caplog.records if "resumed the running reply" in r.getMessage()]
        assert len(resumes) == len(RECONNECT_DELAYS) == 2
        assert 3 * 1 + sum(RECONNECT_DELAYS) <= took < 8


async def test_a_request_the_server_never_answers_times_out(agents_server):
    async with PlaygroundClient(
        agents_server.url, wire_format="agents", timeout=1, max_retries=0
    ) as client:
        with pytest.raises(PlaygroundTimeoutError):
            await client.achat("[throw]")


async def test_a_slow_reply_that_keeps_flowing_is_never_cut(agents_server):
    async with PlaygroundClient(
        agents_server.url, wire_format="agents", timeout=1, max_retries=0
    ) as client:
        started = time.monotonic()
        reply = await client.achat("[slow:600]")  # 1.8 s in all, no gap over 1 s
        assert reply.text == "Slow reply, done."
        assert time.monotonic() - started > 1.7


async def test_server_refusing_client_state_is_configured_by_rpc(ws_client):
    reply = await ws_client.achat(
        [
            {"role": "system", "content": "[reject-state] Be brief."},
            {"role": "user", "content": "u"},
        ],
        model="qwq-32b",
        temperature=0.5,
    )
    fields = echo_fields(reply.text[reply.text.index("Echo from") :])
    assert fields["model"] == "@cf/qwen/qwq-32b"
    assert fields["temperature"] == "0.5"
    # setConfig took the system prompt too: in the room, once, and not in the history.
    assert fields["system (state)"] == "[reject-state] Be brief."
    assert fields["system (messages)"] == "(none)"


async def test_breaking_out_early_cancels_on_the_server(agents_server, monkeypatch):
    room = f"observed-{os.getpid()}-{time.monotonic_ns()}"
    monkeypatch.setattr(agents_module, "new_room", lambda: room)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"{agents_server.url.replace('http', 'ws')}/agents/playground/{room}"
        ) as observer,
        PlaygroundClient(agents_server.url, wire_format="agents") as client,
    ):
        async for event in client.astream_chat("[slow:300]"):
            assert isinstance(event, TextDelta)
            break
        # The room broadcasts every response frame: the observer sees the request end.
        outcome = await request_outcome(observer)
    assert outcome == "aborted"


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_a_hundred_early_exits_leave_nothing_behind(agents_server):
    async with PlaygroundClient(agents_server.url, wire_format="agents") as client:
        await client.achat("warm up")  # the session and its first connection
        await asyncio.sleep(0.2)
        fds_before = open_fds()
        for _ in range(100):
            async for event in client.astream_chat("[slow:50]"):
                assert isinstance(event, TextDelta)
                break
        # Closing happens off the caller's time; wait for the closes to finish.
        assert await settled(lambda: not client._router.cleanup.background_closes, 30)
        assert asyncio.all_tasks() == {asyncio.current_task()}
        assert open_fds() <= fds_before + 1
        assert (await client.achat("still fine")).text.startswith("Echo from")


async def test_cancelling_the_task_cancels_on_the_server(agents_server, monkeypatch):
    room = f"cancelled-{os.getpid()}-{time.monotonic_ns()}"
    monkeypatch.setattr(agents_module, "new_room", lambda: room)
    first_chunk = asyncio.Event()

    async def consume(client: PlaygroundClient) -> None:
        async for _ in client.astream_chat("[slow:300]"):
            first_chunk.set()

    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"{agents_server.url.replace('http', 'ws')}/agents/playground/{room}"
        ) as observer,
    ):
        async with PlaygroundClient(agents_server.url, wire_format="agents") as client:
            task = asyncio.create_task(consume(client))
            await asyncio.wait_for(first_chunk.wait(), 10)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            outcome = await request_outcome(observer)
        assert asyncio.all_tasks() == {asyncio.current_task()}
    assert outcome == "aborted"


@pytest.mark.parametrize("transport", ["direct", "impersonate"])
async def test_a_cancel_before_the_first_text_is_never_lost(agents_server, transport):
    # The cancel goes out as the socket closes: closed at once, about one cancel in three was
    # never read by the server, and the reply ran to its end.
    outcomes = []
    async with PlaygroundClient(
        agents_server.url, wire_format="agents", transport=transport
    ) as client:
        for _ in range(20):
            prompt = f"cancelled before its text {uuid.uuid4().hex} [slow:1000]"
            task = asyncio.create_task(client.achat(prompt))
            room = (await asyncio.to_thread(agents_server.chat_request, prompt))["room"]
            task.cancel()  # the room has the request; the model has written nothing yet
            with pytest.raises(asyncio.CancelledError):
                await task
            ended = await asyncio.to_thread(agents_server.stream_end, room)
            outcomes.append((ended["ended"], ended["written"]))
    assert outcomes == [("cancelled", 0)] * 20


async def test_many_conversations_in_parallel_on_one_client(ws_client):
    replies = await asyncio.gather(*(ws_client.achat(f"n{i}") for i in range(40)))
    assert [echo_fields(r.text)["last user"] for r in replies] == [f"n{i}" for i in range(40)]


def test_sync_twins_over_the_websocket(agents_server):
    with PlaygroundClient(agents_server.url, wire_format="agents") as client:
        assert client.chat("sync").text.startswith("Echo from")
        assert (
            "".join(e.text for e in client.stream_chat("[long:4]") if isinstance(e, TextDelta))
            == "t0 t1 t2 t3 "
        )
        assert len(client.list_models()) == CHAT_MODEL_COUNT


# -- choosing the wire format --------------------------------------------------------------


async def test_auto_uses_the_websocket_on_an_agents_server(agents_server):
    async with PlaygroundClient(agents_server.url) as client:
        assert (await client.achat("auto")).text.startswith("Echo from the mock model")


async def test_auto_falls_back_to_http_once_and_remembers(data_stream_server):
    async with PlaygroundClient(data_stream_server.url) as client:
        await client.achat("one")
        await client.achat("two")
        await client.alist_models()
    upgrades = [r for r in data_stream_server.requests if r.path.startswith("/agents/")]
    assert len(upgrades) == 1  # one probe, then the client remembers
    assert len(data_stream_server.inference_requests) == 2


async def test_forcing_websocket_against_an_http_server_is_a_clear_404(data_stream_server):
    async with PlaygroundClient(data_stream_server.url, wire_format="agents") as client:
        with pytest.raises(NotFoundError, match="no Agents WebSocket route"):
            await client.achat("x")


async def test_forcing_http_against_the_agents_server_is_a_404(agents_server):
    async with PlaygroundClient(agents_server.url, wire_format="http", max_retries=0) as client:
        with pytest.raises(NotFoundError):
            await client.achat("x")


async def test_refused_upgrade_is_the_challenge_error_and_carries_the_session(data_stream_server):
    data_stream_server.push(Fault(challenge=True), Fault(challenge=True), route="agents")
    async with PlaygroundClient(
        data_stream_server.url,
        wire_format="agents",
        transport="direct",  # aiohttp's handshake error is the one under test
        max_retries=0,
        cookies={"cf_clearance": "secret-c1"},
    ) as client:
        with pytest.raises(ChallengeError, match="refused the WebSocket upgrade") as info:
            await client.achat("x")
    # aiohttp's handshake error holds the request's headers; it is kept out of the chain.
    assert info.value.__cause__ is None
    assert "secret-c1" not in "".join(traceback.format_exception(info.value))
    upgrade = [r for r in data_stream_server.requests if r.path.startswith("/agents/playground/")][
        -1
    ]
    assert upgrade.headers["Upgrade"].lower() == "websocket"
    assert "Chrome/" in upgrade.headers["User-Agent"]
    assert upgrade.headers["Origin"] == data_stream_server.url
    assert upgrade.cookies == {"cf_clearance": "secret-c1"}


async def test_a_peer_that_never_answers_the_close_costs_the_caller_nothing(data_stream_server):
    data_stream_server.push(
        *[Fault(websocket=True, ignore_close=True, reply=["fine"])] * 3, route="agents"
    )
    client = PlaygroundClient(data_stream_server.url, wire_format="agents")
    for _ in range(3):
        started = time.monotonic()
        assert (await client.achat("x")).text == "fine"
        # Waiting for the close handshake would cost the close timeout; the caller waited none.
        assert time.monotonic() - started < CLOSE_SECONDS
    assert (
        client._router.cleanup.background_closes
    )  # the closes are still waiting for the silent peer
    closing = time.monotonic()
    await client.aclose()  # and closing the client waits for them, bounded
    assert not client._router.cleanup.background_closes
    assert time.monotonic() - closing < CLOSE_SECONDS + 3  # bounded: the peer holds 10 s
