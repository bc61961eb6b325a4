"""The real client against the reference server over real sockets, for both HTTP wire formats."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time

import pytest

from langchain_cloudflare_playground.client import (
    Finish,
    ModelNotFoundError,
    PlaygroundClient,
    PlaygroundConnectionError,
    PlaygroundProtocolError,
    PlaygroundStreamError,
    PlaygroundTimeoutError,
    ReasoningDelta,
    TextDelta,
)
from tests.reference_server import CATALOG, Fault
from tests.scripted_model import echo_reply

DEFAULT = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"


async def test_chat_streams_the_reply(client, server):
    events = [e async for e in client.astream_chat("Hello there")]
    text_events = [e for e in events if isinstance(e, TextDelta)]
    assert len(text_events) > 5  # streamed in pieces, not in one lump
    assert isinstance(events[-1], Finish)
    assert events[-1].reason == "stop"
    assert events[-1].model == DEFAULT
    text = "".join(e.text for e in text_events)
    assert text.startswith("Echo: Hello there | model=" + DEFAULT)
    assert events[-1].usage is not None
    assert events[-1].usage.output_tokens == len(text_events)


async def test_system_prompt_and_history_reach_the_server(client, server):
    reply = await client.achat(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "two"},
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "three"},
        ],
        max_tokens=77,
    )
    assert reply.text.startswith("Echo: three |")
    assert "system=Be brief.\n\nBe kind." in reply.text
    assert "turns=3" in reply.text
    assert "max_tokens=77" in reply.text
    body = server.inference_requests[-1].json
    if server.wire_format == "sse":
        assert body["messages"][0] == {"role": "system", "content": "Be brief.\n\nBe kind."}
        assert "system_message" not in body
    else:
        assert body["system_message"] == "Be brief.\n\nBe kind."
        assert all(m["role"] != "system" for m in body["messages"])
        assert body["messages"][0]["parts"] == [{"type": "text", "text": "one"}]


async def test_first_request_learns_the_wire_format_and_keeps_the_system_prompt(server):
    async with PlaygroundClient(server.url) as fresh:
        reply = await fresh.achat(
            [{"role": "system", "content": "S"}, {"role": "user", "content": "u"}]
        )
        assert "system=S |" in reply.text
        await fresh.achat([{"role": "system", "content": "S"}, {"role": "user", "content": "u"}])
    # The data stream is guessed first; an SSE server costs one extra request, once.
    assert len(server.inference_requests) == (3 if server.wire_format == "sse" else 2)


async def test_model_override_and_aliases(client, server):
    reply = await client.achat("hi", model="llama-3.1-8b")
    assert reply.model == "@cf/meta/llama-3.1-8b-instruct-fp8"
    assert server.inference_requests[-1].json["model"] == "@cf/meta/llama-3.1-8b-instruct-fp8"
    reply = await client.achat("hi", model="@cf/some/unlisted-model")
    assert server.inference_requests[-1].json["model"] == "@cf/some/unlisted-model"


async def test_alias_known_only_to_the_live_list_is_resolved_through_it(client, server):
    reply = await client.achat("hi", model="sparrow-9b")
    assert reply.model == "@cf/acme/sparrow-9b-instruct-awq"
    http_requests = [r.path for r in server.requests if not r.path.startswith("/agents/")]
    assert http_requests == ["/api/models", "/api/inference"]


async def test_unknown_model_fails_before_reaching_the_server(client, server):
    with pytest.raises(ModelNotFoundError, match=r"llama-3\.3-70b"):
        await client.achat("hi", model="llama-3.3-7b")
    assert server.inference_requests == []


async def test_reasoning_is_kept_apart(data_stream_server):
    # Server-sent events have no reasoning channel; the data stream sends it on ``g:`` lines.
    async with PlaygroundClient(data_stream_server.url) as client:
        reply = await client.achat("hi", model="qwq-32b")
        events = [e async for e in client.astream_chat("hi", model="qwq-32b")]
    assert reply.reasoning == "Let me think. The user wants an echo."
    assert "Let me think" not in reply.text
    kinds = [type(e) for e in events]
    assert kinds.index(ReasoningDelta) < kinds.index(TextDelta)


async def test_identical_consecutive_chunks_are_all_kept(client, server):
    server.push(Fault(reply=["a", "\n", "\n", "\n", "b"]))
    assert (await client.achat("x")).text == "a\n\n\nb"


async def test_end_of_sequence_token_is_not_text(sse_server):
    async with PlaygroundClient(sse_server.url) as c:
        sse_server.push(Fault(reply=["Hi", "!"], eos_token=True))
        assert (await c.achat("x")).text == "Hi!"


async def test_finish_without_usage(client, server):
    server.push(Fault(usage=False))
    reply = await client.achat("x")
    assert reply.usage is None
    assert reply.finish_reason == "stop"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
async def test_any_line_ending(client, server, newline):
    server.push(Fault(newline=newline, reply=["é", "🙂", " ok"]))
    assert (await client.achat("x")).text == "é🙂 ok"


async def test_byte_splits_on_the_wire(client, server):
    reply = ["Hé", "llo 👋", "\n", " 世界"]
    expected = "".join(reply)
    # Split the body at every offset near the multi-byte characters and the line breaks.
    for offset in range(1, 60):
        server.push(Fault(reply=reply, split_at=[offset, offset + 1, offset + 3]))
        assert (await client.achat("x")).text == expected


async def test_line_longer_than_aiohttps_read_buffer(client, server):
    long_chunk = "y" * 300_000 + "é"
    server.push(Fault(reply=["a", long_chunk, "b"]))
    assert (await client.achat("x")).text == "a" + long_chunk + "b"


# -- connection faults ----------------------------------------------------------------------

# What each status error, refusal and connection fault becomes, and which are retried (with
# how many requests and how long a wait), is test_fault_matrix.py's: one place for retries.


async def test_reset_after_text_raises_a_stream_error_with_the_text(client, server):
    server.push(Fault(reply=["a", "b", "c", "d"], cut_after=2))
    with pytest.raises(PlaygroundStreamError) as info:
        await client.achat("x")
    assert info.value.partial_text == "ab"
    assert isinstance(info.value.__cause__, PlaygroundConnectionError)


async def test_clean_close_before_the_end_marker_is_not_a_silent_success(client, server):
    server.push(Fault(reply=["a", "b", "c"], close_after=2))
    with pytest.raises(PlaygroundStreamError, match="before the reply was complete") as info:
        await client.achat("x")
    assert info.value.partial_text == "ab"


async def test_stalled_server_times_out(server):
    async with PlaygroundClient(server.url, timeout=0.5, max_retries=0) as c:
        server.push(Fault(stall_before=10))
        started = time.monotonic()
        with pytest.raises(PlaygroundTimeoutError, match=r"0\.5 s"):
            await c.achat("x")
    assert time.monotonic() - started < 5  # the timeout, long before the stall's end


async def test_stall_mid_stream_raises_a_stream_error(server):
    async with PlaygroundClient(server.url, timeout=0.5, max_retries=0) as c:
        server.push(Fault(reply=["a", "b", "c"], stall_after=(2, 3)))
        with pytest.raises(PlaygroundStreamError) as info:
            await c.achat("x")
    assert info.value.partial_text == "ab"
    assert isinstance(info.value.__cause__, PlaygroundTimeoutError)


async def test_a_slow_reply_that_keeps_flowing_is_never_cut(server):
    # 12 chunks 0.2 s apart take 2.4 s in all, far past the 0.5 s timeout, but no gap exceeds it.
    async with PlaygroundClient(server.url, timeout=0.5, max_retries=0) as c:
        server.push(Fault(reply=[str(i) for i in range(12)], chunk_delay=0.2))
        started = time.monotonic()
        reply = await c.achat("x")
    assert reply.text == "01234567891011"
    assert time.monotonic() - started > 2.0


# -- malformed replies ------------------------------------------------------------------


async def test_html_page_where_a_stream_was_expected(client, server):
    server.push(
        Fault(body=b"<!DOCTYPE html><html><body>Hi</body></html>", content_type="text/html")
    )
    with pytest.raises(PlaygroundProtocolError, match="check the base URL"):
        await client.achat("x")


async def test_empty_200(client, server):
    server.push(Fault(body=b""))
    with pytest.raises(PlaygroundProtocolError, match="empty reply"):
        await client.achat("x")


async def test_broken_json_in_a_frame(client, server):
    bad = b'data: {"response": "x' if server.wire_format == "sse" else b'0:"unterminated'
    server.push(Fault(reply=["ok"], extra_lines=[bad]))
    with pytest.raises(PlaygroundProtocolError, match="malformed"):
        await client.achat("x")


async def test_unknown_frames_are_skipped(data_stream_server):
    async with PlaygroundClient(data_stream_server.url) as c:
        data_stream_server.push(
            Fault(reply=["fine"], extra_lines=[b'z:{"new":"thing"}', b'8:[{"a":1}]'])
        )
        assert (await c.achat("x")).text == "fine"


async def test_invalid_utf8(client, server):
    prefix = b"data: " if server.wire_format == "sse" else b"0:"
    server.push(Fault(body=prefix + b'"\xff\xfe"\n', content_type="text/plain"))
    with pytest.raises(PlaygroundProtocolError, match="UTF-8"):
        await client.achat("x")


# -- models ------------------------------------------------------------------------------


async def test_list_models_keeps_chat_models_and_caches(client, server):
    models = await client.alist_models()
    ids = [m.id for m in models]
    assert "@cf/qwen/qwq-32b" in ids
    assert "@cf/black-forest-labs/flux-1-schnell" not in ids
    sparrow = next(m for m in models if m.alias == "sparrow-9b")
    assert sparrow.properties["function_calling"] == "true"
    assert sparrow.context_window == 8192
    await client.alist_models()
    assert len([r for r in server.requests if r.path == "/api/models"]) == 1
    await client.alist_models(refresh=True)
    assert len([r for r in server.requests if r.path == "/api/models"]) == 2


async def test_list_models_accepts_a_bare_array(client, server):
    server.models_payload = [{"name": "@cf/meta/llama-3.2-1b-instruct"}]
    try:
        models = await client.alist_models()
    finally:
        server.models_payload = {"models": CATALOG}
    assert [m.alias for m in models] == ["llama-3.2-1b"]


async def test_list_models_falls_back_to_the_static_table_and_says_so(client, server, caplog):
    server.push(Fault(status=404), route="models")
    models = await client.alist_models()
    assert {m.alias for m in models} >= {"llama-3.3-70b", "qwq-32b"}
    assert "using the built-in alias table" in caplog.text


# -- sessions ----------------------------------------------------------------------------


async def test_browser_like_headers_and_server_cookies_are_kept(
    client, server, isolated_session_cache
):
    server.push(Fault(set_cookies={"__cf_bm": "bm-value"}))
    await client.achat("x")
    first = server.inference_requests[-1]
    assert "Chrome/" in first.headers["User-Agent"]
    assert first.headers["Origin"] == server.url
    assert "__cf_bm" not in first.cookies
    await client.achat("x")
    assert server.inference_requests[-1].cookies == {"__cf_bm": "bm-value"}
    # A new client (a new process, say) starts with the cookie from the cache.
    async with PlaygroundClient(server.url) as again:
        await again.achat("x")
    assert server.inference_requests[-1].cookies == {"__cf_bm": "bm-value"}
    assert "bm-value" not in repr(client) + repr(client.sessions)


async def test_caller_headers_cookies_and_user_agent(server):
    async with PlaygroundClient(
        server.url, user_agent="UA/1", headers={"X-Trace": "7"}, cookies={"mine": "c"}
    ) as c:
        await c.achat("x")
    got = server.inference_requests[-1]
    assert got.headers["User-Agent"] == "UA/1"
    assert got.headers["X-Trace"] == "7"
    assert got.cookies == {"mine": "c"}


# -- client lifecycle and the sync twins -------------------------------------------------


async def test_connections_are_reused(client, server):
    for prompt in ("x", "y", "z"):
        await client.achat(prompt)
    # (On an SSE server the very first request is re-sent on a new connection.)
    peers = {r.peer for r in server.inference_requests[-3:]}
    assert len(peers) == 1  # one keep-alive connection carried all three


async def test_many_streams_in_parallel_on_one_client(client, server):
    replies = await asyncio.gather(*(client.achat(f"n{i}") for i in range(50)))
    assert [r.text.split(" |")[0] for r in replies] == [f"Echo: n{i}" for i in range(50)]


async def test_breaking_out_early_leaves_nothing_open(server):
    async def abandon_twenty(client: PlaygroundClient) -> int:
        for _ in range(20):
            async for event in client.astream_chat("x"):
                assert isinstance(event, TextDelta)
                break
        # Abandoned streams are finalised by the loop (or the collector, for one caught in a
        # reference cycle), and the reference server, in this process too, sees the closes.
        for _ in range(20):
            gc.collect()
            await asyncio.sleep(0.05)
        return len(os.listdir("/proc/self/fd"))

    async with PlaygroundClient(server.url) as c:
        await c.achat("warm up")
        fds_before = len(os.listdir("/proc/self/fd"))
        after_twenty = await abandon_twenty(c)
        after_forty = await abandon_twenty(c)
        connector = c._router.direct._by_loop[asyncio.get_running_loop()].session.connector
        assert connector is not None
        assert not connector._acquired  # no abandoned reply still holds a connection
        # What is left is the keep-alive pool, which does not grow with abandoned replies.
        # (It moves by a socket or two as idle connections come and go, but never builds up.)
        assert after_twenty <= fds_before + 4
        assert after_forty <= fds_before + 4
        assert (await c.achat("after")).text.startswith("Echo: after")


def test_sync_twins_from_a_plain_script(server):
    with PlaygroundClient(server.url) as c:
        reply = c.chat("sync hello")
        streamed = "".join(e.text for e in c.stream_chat("sync hello") if isinstance(e, TextDelta))
        models = c.list_models()
    assert reply.text == streamed
    assert reply.text.startswith("Echo: sync hello")
    assert any(m.alias == "qwq-32b" for m in models)


async def test_sync_twins_inside_a_running_loop_like_jupyter(server):
    # A Jupyter cell runs inside an event loop: asyncio.run() would fail here.
    c = PlaygroundClient(server.url)
    try:
        assert c.chat("inside").text.startswith("Echo: inside")
        stream = c.stream_chat("inside")
        first = next(stream)
        stream.close()  # stop early
        assert isinstance(first, TextDelta)
        assert (await c.achat("async too")).text.startswith("Echo: async too")
    finally:
        await c.aclose()


def test_the_reply_text_is_the_echo_of_the_scripted_model(server):
    with PlaygroundClient(server.url) as c:
        reply = c.chat("check")
    assert reply.text == "".join(echo_reply(server.inference_requests[-1].json, server.wire_format))


async def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="wire_format must be one of 'auto', 'agents', 'http'"):
        PlaygroundClient("http://x", wire_format="smoke")
    with pytest.raises(
        TypeError, match=r"unknown client option.*'tiemout'.*timeout, total_timeout"
    ):
        PlaygroundClient("http://x", tiemout=3)
    with pytest.warns(DeprecationWarning, match="`dialect` is now `wire_format`"):
        former = PlaygroundClient("http://x", dialect="websocket")
    assert former.options.wire_format == "agents"
    with pytest.raises(ValueError, match="http:// or https://"):
        PlaygroundClient("playground.ai.cloudflare.com")
    with pytest.raises(ValueError, match="timeout"):
        PlaygroundClient("http://x", timeout=0)
    async with PlaygroundClient("http://127.0.0.1:9") as c:
        with pytest.raises(ValueError, match="max_tokens"):
            await c.achat("x", max_tokens=0)


def test_base_url_from_the_environment(monkeypatch):
    monkeypatch.setenv("CF_PLAYGROUND_URL", "http://127.0.0.1:1234/")
    assert PlaygroundClient().base_url == "http://127.0.0.1:1234"
    assert PlaygroundClient("http://explicit").base_url == "http://explicit"
    monkeypatch.delenv("CF_PLAYGROUND_URL")
    assert PlaygroundClient().base_url == "https://playground.ai.cloudflare.com"


def test_a_client_used_across_asyncio_run_calls_leaks_nothing(server):
    # Each asyncio.run is a new loop with its own session; each is closed as its loop ends.
    # (The suite turns ResourceWarnings from unclosed sessions or sockets into failures.)
    client = PlaygroundClient(server.url)
    for prompt in ("one", "two"):
        assert asyncio.run(client.achat(prompt)).text.startswith(f"Echo: {prompt}")
    gc.collect()
    assert len(client._router.direct._by_loop) == 0  # the ended loops took their sessions with them


async def test_cookies_set_on_a_refusal_are_sent_on_the_retry(client, server):
    server.push(Fault(status=429, retry_after="0", set_cookies={"__cf_bm": "from-429"}))
    await client.achat("x")
    assert server.inference_requests[0].cookies == {}
    assert server.inference_requests[1].cookies == {"__cf_bm": "from-429"}


async def test_a_challenge_drops_the_session_before_the_retry(server, isolated_session_cache):
    from langchain_cloudflare_playground.client import SessionCache, SiteSession

    cache = SessionCache()
    cache.save(
        server.url,
        SiteSession(user_agent="UA", cookies={"cf_clearance": "stale"}, source="browser"),
    )
    server.push(Fault(challenge=True, retry_after="0"))
    async with PlaygroundClient(server.url, transport="direct") as c:  # no ladder to climb
        await c.achat("x")
    first, second = server.inference_requests
    assert first.cookies == {"cf_clearance": "stale"}
    assert second.cookies == {}  # a fresh session, not the one the site refused
    assert cache.load(server.url) is None


def test_closing_while_another_thread_waits_in_a_sync_call(server):
    client = PlaygroundClient(server.url, timeout=30)
    server.push(Fault(stall_before=20))
    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            client.chat("slow")
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    server.stream(0).wait_stalling()  # the call is waiting for the stalled server
    started = time.monotonic()
    client.close()
    worker.join(5)
    assert not worker.is_alive()  # it did not wait for the stalled server (20 s)
    assert time.monotonic() - started < 5
    assert outcome  # it was told, not left hanging
    assert outcome[0] is not None
    assert server.stream(0).wait_ended() == "reader gone"  # and let go of the connection


async def test_one_client_from_a_thread_and_a_loop_at_once(server):
    client = PlaygroundClient(server.url)
    errors: list[BaseException] = []

    def sync_side() -> None:
        try:
            for i in range(20):
                assert client.chat(f"t{i}", model="sparrow-9b").text.startswith(f"Echo: t{i}")
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=sync_side)
    worker.start()
    try:
        for i in range(20):
            reply = await client.achat(f"a{i}", model="llama-3.1-8b")
            assert reply.text.startswith(f"Echo: a{i}")
            await client.alist_models(refresh=True)
    finally:
        await asyncio.to_thread(worker.join, 30)
        await client.aclose()
    assert errors == []
