"""VCR cassettes: the HTTP wire formats record with vcrpy and replay with the network off.

The committed cassettes in ``tests/cassettes/`` were recorded from the reference server; see the
README there to re-record them (against the reference server, or the live site).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from pathlib import Path

import pytest
import vcr
from pytest_socket import SocketBlockedError, disable_socket, enable_socket
from vcr.errors import CannotOverwriteExistingCassetteException

from langchain_cloudflare_playground.client import (
    ImagePart,
    PlaygroundClient,
    PlaygroundStreamError,
    TextDelta,
)
from langchain_cloudflare_playground.testing import cassette_patches
from langchain_cloudflare_playground.testing import vcr_config as playground_vcr_config
from tests.helpers import echo_fields
from tests.reference_server import Fault
from tests.sample_images import VISION_MODEL, ImageHost, images_reported, png, reported, webp
from tests.scripted_model import echo_reply

CASSETTES = os.path.join(os.path.dirname(__file__), os.pardir, "cassettes")
# Where the committed cassettes were recorded (the reference server, by tests.record_cassettes).
# On replay nothing listens there; host and port are not matched, so $CF_PLAYGROUND_RECORD_URL
# (set by tests.record_cassettes --base-url) may point a re-recording at any server that speaks
# the wire format. (Not $CF_PLAYGROUND_URL: every test runs with that one unset.)
RECORD_URL_ENV = "CF_PLAYGROUND_RECORD_URL"
RECORDED_URLS = {
    "sse": "http://127.0.0.1:8786",
    "data-stream": "http://127.0.0.1:8787",
    "agents": "http://127.0.0.1:8788",
}
CONVERSATION = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Name a colour."},
    {"role": "assistant", "content": "Blue."},
    {"role": "user", "content": "Another one?"},
]


# The committed conversation with an image (test_committed_websocket_image_cassette_replays).
PICTURE = png(24, 16, seed=60)
IMAGE_CONVERSATION = [
    {"role": "user", "content": ["What is in this picture?", ImagePart.from_bytes(PICTURE)]}
]


def vcr_settings() -> dict[str, object]:
    # The package's own settings, which keep cookies out; host and port are not matched, so the
    # committed cassettes replay whatever port their servers had when recorded.
    return {**playground_vcr_config(), "match_on": ("method", "path", "body")}


@pytest.fixture
def vcr_config():
    return vcr_settings()


@pytest.fixture
def vcr_cassette_dir():
    return os.path.abspath(CASSETTES)


@pytest.fixture
def network_off_unless_recording(record_mode):
    if record_mode != "none":
        yield  # re-recording: the reference server (or the live site) must be reachable
        return
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


async def chat_text(
    base_url: str, conversation: list[dict[str, str]] = CONVERSATION, wire_format: str = "auto"
) -> tuple[str, int]:
    async with PlaygroundClient(base_url, session_cache=False, wire_format=wire_format) as client:
        pieces = [
            e.text async for e in client.astream_chat(conversation) if isinstance(e, TextDelta)
        ]
    return "".join(pieces), len(pieces)


async def test_record_then_replay_with_the_network_off(server, tmp_path):
    cassette = str(tmp_path / "chat.yaml")
    with vcr.use_cassette(cassette, record_mode="once", **vcr_settings()) as recorded:
        live_text, live_pieces = await chat_text(server.url)
    assert len(recorded) >= 1

    requests_before = len(server.requests)
    disable_socket(allow_unix_socket=True)
    try:
        with vcr.use_cassette(cassette, record_mode="none", **vcr_settings()) as replayed:
            text, pieces = await chat_text(server.url)
        assert replayed.all_played
    finally:
        enable_socket()
    assert (text, pieces) == (live_text, live_pieces)
    assert text.startswith("Echo: Another one? |")
    assert len(server.requests) == requests_before  # the server saw nothing of the replay


async def test_replay_is_really_offline(server, tmp_path):
    # The guard itself works: without a cassette the same call cannot reach the server.
    disable_socket(allow_unix_socket=True)
    try:
        with (
            pytest.raises(SocketBlockedError),
            pytest.warns(UserWarning, match="tried to use socket"),
        ):
            await chat_text(server.url)
    finally:
        enable_socket()
    assert server.requests == []


@pytest.mark.vcr
@pytest.mark.usefixtures("network_off_unless_recording")
@pytest.mark.parametrize("wire_format", ["sse", "data-stream"])
async def test_committed_cassette_replays(wire_format):
    text, pieces = await chat_text(os.environ.get(RECORD_URL_ENV) or RECORDED_URLS[wire_format])
    body = {
        "messages": [m for m in CONVERSATION if m["role"] != "system"],
        "model": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
        "max_tokens": 2048,
        "system_message": "You are terse.",
    }
    assert text == "".join(echo_reply(body, "data-stream"))
    assert pieces == len(echo_reply(body, "data-stream"))


@pytest.mark.vcr
@pytest.mark.usefixtures("network_off_unless_recording")
async def test_committed_models_cassette_replays():
    base_url = os.environ.get(RECORD_URL_ENV) or RECORDED_URLS["data-stream"]
    async with PlaygroundClient(base_url, session_cache=False) as client:
        models = await client.alist_models()
    assert {m.alias for m in models} >= {"llama-3.3-70b", "qwq-32b", "sparrow-9b"}


async def image_chat(base_url: str, conversation: list[dict[str, object]]) -> str:
    async with PlaygroundClient(
        base_url, session_cache=False, wire_format="agents", model=VISION_MODEL
    ) as client:
        return (await client.achat(conversation)).text


# -- the Agents frames over the WebSocket ------------------------------------------------------


async def test_websocket_conversation_records_then_replays_offline(agents_server, tmp_path):
    cassette = tmp_path / "ws.yaml"
    # vcrpy's defaults (its matching ignores bodies), with the patches that hand over the cassette.
    with vcr.use_cassette(
        str(cassette), record_mode="once", custom_patches=cassette_patches()
    ) as recorded:
        live = await chat_text(agents_server.url)
        async with PlaygroundClient(agents_server.url, session_cache=False) as client:
            live_models = [m.id for m in await client.alist_models()]
    assert len(recorded) == 2  # one conversation, one model listing; no bare upgrades
    saved = await asyncio.to_thread(cassette.read_text)
    # The random room is not part of the recorded request, so the key is stable across runs.
    assert "/agents/playground/cassette/chat?key=" in saved
    assert "/agents/playground/cassette/getModels?key=" in saved
    assert "_pk=" not in saved
    assert "cf_agent_use_chat_response" in saved

    disable_socket(allow_unix_socket=True)
    try:
        with vcr.use_cassette(
            str(cassette), record_mode="none", custom_patches=cassette_patches()
        ) as replayed:
            replay = await chat_text(agents_server.url)
            async with PlaygroundClient(agents_server.url, session_cache=False) as client:
                replay_models = [m.id for m in await client.alist_models()]
        assert replayed.all_played
    finally:
        enable_socket()
    assert replay == live
    assert live[0].startswith("Echo from the mock model.")
    assert replay_models == live_models


async def test_websocket_cookies_stay_out_of_the_cassette(agents_server, tmp_path):
    cassette = tmp_path / "ws.yaml"
    with vcr.use_cassette(
        str(cassette),
        record_mode="once",
        filter_headers=["cookie"],
        custom_patches=cassette_patches(),
    ):
        async with PlaygroundClient(
            agents_server.url, session_cache=False, cookies={"cf_clearance": "secret-value"}
        ) as client:
            await client.achat("hi")
    assert "secret-value" not in await asyncio.to_thread(cassette.read_text)


async def test_a_new_conversation_under_record_mode_none_is_refused(agents_server, tmp_path):
    # As for HTTP requests, telling conversations apart needs "body" in match_on.
    cassette = str(tmp_path / "ws.yaml")
    with vcr.use_cassette(cassette, record_mode="once", **vcr_settings()):
        await chat_text(agents_server.url, wire_format="agents")
    other = [{"role": "user", "content": "something never recorded"}]
    for wire_format in ("agents", "auto"):
        with (
            vcr.use_cassette(cassette, record_mode="none", **vcr_settings()),
            pytest.raises(CannotOverwriteExistingCassetteException),
        ):
            await chat_text(agents_server.url, other, wire_format=wire_format)


async def test_new_episodes_appends_a_conversation_to_the_same_cassette(agents_server, tmp_path):
    cassette = str(tmp_path / "ws.yaml")
    second = [{"role": "user", "content": "second"}]
    with vcr.use_cassette(cassette, record_mode="once", **vcr_settings()):
        first_live = await chat_text(agents_server.url)
    with vcr.use_cassette(cassette, record_mode="new_episodes", **vcr_settings()) as recorded:
        assert await chat_text(agents_server.url) == first_live  # replayed, not re-recorded
        second_live = await chat_text(agents_server.url, second)
    assert len(recorded) == 2
    disable_socket(allow_unix_socket=True)
    try:
        with vcr.use_cassette(cassette, record_mode="none", **vcr_settings()):
            assert await chat_text(agents_server.url, second) == second_live
            assert await chat_text(agents_server.url) == first_live
    finally:
        enable_socket()


async def test_vcrpys_default_matching_keeps_conversations_apart(agents_server, tmp_path):
    cassette = str(tmp_path / "ws.yaml")
    apple = [{"role": "user", "content": "apple"}]
    banana = [{"role": "user", "content": "banana"}]
    with vcr.use_cassette(
        cassette, custom_patches=cassette_patches()
    ):  # vcrpy's defaults: the body is not matched
        await chat_text(agents_server.url, apple)
        await chat_text(agents_server.url, banana)
    disable_socket(allow_unix_socket=True)
    try:
        with vcr.use_cassette(cassette, record_mode="none", custom_patches=cassette_patches()):
            text, _ = await chat_text(agents_server.url, banana)
    finally:
        enable_socket()
    assert text.endswith("last user: banana")


async def test_the_cassettes_response_filters_see_the_frames(agents_server, tmp_path):
    cassette = tmp_path / "ws.yaml"

    def redact(response):
        response["body"]["string"] = response["body"]["string"].replace("SECRETWORD", "[gone]")
        return response

    with vcr.use_cassette(
        str(cassette), before_record_response=redact, custom_patches=cassette_patches()
    ):
        await chat_text(
            agents_server.url, [{"role": "user", "content": "my password is SECRETWORD"}]
        )
    saved = await asyncio.to_thread(cassette.read_text)
    # The echoed word in the recorded frames went through the filter; what is left is the
    # request's own copy (the caller's history, which before_record_request would filter).
    assert "[gone]" in saved
    assert saved.count("SECRETWORD") == 1


async def test_ignored_hosts_go_to_the_network_unrecorded(agents_server, tmp_path):
    cassette = tmp_path / "ws.yaml"
    with vcr.use_cassette(
        str(cassette), record_mode="none", ignore_localhost=True, custom_patches=cassette_patches()
    ) as ignored:
        text, _ = await chat_text(agents_server.url, wire_format="agents")
    assert text.startswith("Echo from the mock model.")
    assert len(ignored) == 0


async def test_auto_replays_an_http_recording_without_the_network(data_stream_server, tmp_path):
    # Recorded in "auto" mode against an HTTP-only server: the missing Agents route is recorded
    # too, so a replay (even in a mode that may record) falls back to HTTP without probing.
    cassette = str(tmp_path / "http.yaml")
    with vcr.use_cassette(cassette, record_mode="once", custom_patches=cassette_patches()):
        recorded = await chat_text(data_stream_server.url)
    disable_socket(allow_unix_socket=True)
    try:
        with vcr.use_cassette(
            cassette, record_mode="new_episodes", custom_patches=cassette_patches()
        ):
            replayed = await chat_text(data_stream_server.url)
    finally:
        enable_socket()
    assert replayed == recorded


async def test_a_cut_short_recording_fails_clearly_and_is_not_retried(agents_server, tmp_path):
    cassette = str(tmp_path / "ws.yaml")
    with vcr.use_cassette(cassette, custom_patches=cassette_patches()):
        async with PlaygroundClient(agents_server.url, session_cache=False) as client:
            async for _ in client.astream_chat("[long:50]"):
                break
    disable_socket(allow_unix_socket=True)
    try:
        with (
            vcr.use_cassette(cassette, record_mode="none", custom_patches=cassette_patches()),
            pytest.raises(PlaygroundStreamError, match="re-record the cassette") as info,
        ):
            await chat_text(agents_server.url, [{"role": "user", "content": "[long:50]"}])
    finally:
        enable_socket()
    assert info.value.partial_text == "t0 "


async def test_breaking_out_early_while_recording(agents_server, tmp_path):
    cassette = str(tmp_path / "ws.yaml")
    with vcr.use_cassette(cassette, record_mode="once", custom_patches=cassette_patches()):
        async with PlaygroundClient(agents_server.url, session_cache=False) as client:
            async for event in client.astream_chat("[long:50]"):
                first = event
                break
    disable_socket(allow_unix_socket=True)
    try:
        with vcr.use_cassette(cassette, record_mode="none", custom_patches=cassette_patches()):
            async with PlaygroundClient(agents_server.url, session_cache=False) as client:
                async for event in client.astream_chat("[long:50]"):
                    assert event == first
                    break
    finally:
        enable_socket()


async def test_a_conversation_with_images_records_then_replays_offline(agents_server, tmp_path):
    cassette = str(tmp_path / "images.yaml")
    held, fetched = png(seed=62), webp(seed=61)
    with ImageHost({"/p.webp": (200, "image/webp", fetched)}) as host:
        url = host.url("/p.webp")

        def conversation(image: bytes) -> list[dict[str, object]]:
            parts = ["look", ImagePart.from_bytes(image), {"type": "image", "url": url}]
            return [{"role": "user", "content": parts}]

        with vcr.use_cassette(cassette, record_mode="once", **vcr_settings()) as recorded:
            live = await image_chat(agents_server.url, conversation(held))
    assert len(recorded) == 2  # the image the client fetched (vcrpy's own), the conversation
    saved = await asyncio.to_thread(Path(cassette).read_text)
    # The recorded request names each image by its digest, not by its bytes.
    assert f"image/png sha256:{hashlib.sha256(held).hexdigest()}" in saved
    assert images_reported(live) == [reported(held, "image/png"), reported(fetched, "image/webp")]
    disable_socket(allow_unix_socket=True)  # and the image's site is gone too
    try:
        with vcr.use_cassette(cassette, record_mode="none", **vcr_settings()) as replayed:
            assert await image_chat(agents_server.url, conversation(held)) == live
        assert replayed.all_played
        # Another image is another conversation, which the cassette does not hold.
        with (
            vcr.use_cassette(cassette, record_mode="none", **vcr_settings()),
            pytest.raises(CannotOverwriteExistingCassetteException),
        ):
            await image_chat(agents_server.url, conversation(png(seed=63)))
    finally:
        enable_socket()


@pytest.mark.vcr
@pytest.mark.usefixtures("network_off_unless_recording")
async def test_committed_websocket_image_cassette_replays():
    base_url = os.environ.get(RECORD_URL_ENV) or RECORDED_URLS["agents"]
    text = await image_chat(base_url, IMAGE_CONVERSATION)
    assert images_reported(text) == [reported(PICTURE, "image/png")]


@pytest.mark.vcr
@pytest.mark.usefixtures("network_off_unless_recording")
async def test_committed_websocket_cassette_replays():
    text, pieces = await chat_text(os.environ.get(RECORD_URL_ENV) or RECORDED_URLS["agents"])
    assert pieces > 5
    lines = echo_fields(text)
    assert lines["system (state)"] == "You are terse."
    assert lines["messages"] == "3"
    assert lines["last user"] == "Another one?"


async def test_no_cookie_value_reaches_a_cassette(server, tmp_path):
    # The server sets a cookie (Set-Cookie in the response), the next request sends it back
    # (Cookie), and the caller adds one of their own: none of the values may be recorded.
    cassette = tmp_path / "secrets.yaml"
    server.push(Fault(set_cookies={"__cf_bm": "server-secret"}))
    with vcr.use_cassette(str(cassette), record_mode="once", **playground_vcr_config()):
        async with PlaygroundClient(server.url, cookies={"mine": "caller-secret"}) as client:
            await client.achat("one")
            await client.achat("two")
    assert server.inference_requests[-1].cookies == {
        "__cf_bm": "server-secret",
        "mine": "caller-secret",
    }
    saved = await asyncio.to_thread(cassette.read_text)
    assert "server-secret" not in saved
    assert "caller-secret" not in saved


async def test_vcr_settings_without_the_cassette_patches_say_so_and_go_live(
    agents_server, tmp_path, caplog
):
    cassette = tmp_path / "ws.yaml"
    with (
        caplog.at_level(logging.WARNING, logger="langchain_cloudflare_playground"),
        vcr.use_cassette(str(cassette), record_mode="once") as recorded,
    ):
        text, _ = await chat_text(agents_server.url, wire_format="agents")
    assert text.startswith("Echo from the mock model.")  # it went to the server
    assert len(recorded) == 0  # and nothing was recorded
    assert "cassette_patches" in caplog.text
    assert "goes to the network unrecorded" in caplog.text
