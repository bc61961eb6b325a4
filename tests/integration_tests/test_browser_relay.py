"""The in-page relay: WebSockets opened inside a real Chromium page, against the real Agents
server behind an edge that refuses any upgrade that does not look like a browser's."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

import aiohttp
import pytest

import langchain_cloudflare_playground.client.drivers.agents_driver as agents_module
from langchain_cloudflare_playground.client import (
    ChallengeError,
    PlaygroundClient,
    PlaygroundTimeoutError,
    RateLimitError,
    ReasoningDelta,
    TextDelta,
)
from langchain_cloudflare_playground.client.browser import BrowserSessionSource
from tests.agents_worker import CHAT_MODEL_COUNT, AgentsServer
from tests.helpers import (
    chromium_processes,
    echo_fields,
    our_profiles,
    request_outcome,
    require_agents_server,
    require_tool,
)

HISTORY = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello"},
    {"role": "user", "content": "Name a colour"},
]


@pytest.fixture(scope="module")
def browser_gated_agents():
    require_tool("chromium")
    require_agents_server()
    before = chromium_processes()
    with AgentsServer(gate="browser") as server:
        yield server
    deadline = time.monotonic() + 5
    while chromium_processes() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert chromium_processes() - before == set()
    assert our_profiles() == []


def client_for(server: AgentsServer, **options) -> PlaygroundClient:
    return PlaygroundClient(
        server.url,
        wire_format="agents",
        session_source=BrowserSessionSource(deadline=20),
        browser=True,  # the suite sets CF_PLAYGROUND_BROWSER=0 for every other test
        **options,
    )


async def test_direct_upgrades_are_refused_even_with_a_browser_session(browser_gated_agents):
    async with client_for(browser_gated_agents, transport="direct") as client:
        with pytest.raises(ChallengeError, match="refused the WebSocket upgrade"):
            await client.achat("x")
        assert client.sessions.acquisitions == 2  # the first session, then a fresh one


async def test_the_relay_carries_a_full_chat_and_the_model_list(browser_gated_agents):
    async with client_for(browser_gated_agents) as client:  # "auto": direct first, then relay
        events = [e async for e in client.astream_chat(HISTORY, model="qwq-32b", temperature=0.5)]
        models = await client.alist_models()
        second = await client.achat("again")
        relay_browsers = len(our_profiles())
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    fields = echo_fields(text)
    assert fields["model"] == "@cf/qwen/qwq-32b"
    assert fields["temperature"] == "0.5"
    assert fields["system (state)"] == "Be brief."
    assert fields["messages"] == "3"
    assert reasoning.startswith("Let me think")
    assert len(models) == CHAT_MODEL_COUNT
    assert second.text.startswith("Echo from the mock model.")
    assert relay_browsers == 1  # one browser kept open across conversations
    assert our_profiles() == []  # and closed with the client


async def test_the_relay_cancels_on_the_server_when_the_caller_stops(
    browser_gated_agents, monkeypatch
):
    room = f"relayed-{os.getpid()}-{time.monotonic_ns()}"
    monkeypatch.setattr(agents_module, "new_room", lambda: room)
    async with client_for(browser_gated_agents, transport="browser") as client:
        session = await client.sessions.get()
        # An observer in the same room, with the browser's cookies and, like a browser, an
        # offer of compression (the gate's stand-in for a browser's handshake).
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(
                f"{browser_gated_agents.url}/agents/playground/{room}",
                headers={"Cookie": session.request_headers()["Cookie"]},
                compress=15,
            ) as observer,
        ):
            async for event in client.astream_chat("[slow:300]"):
                assert isinstance(event, TextDelta)
                break
            outcome = await request_outcome(observer)
    assert outcome == "aborted"


async def test_errors_and_timeouts_through_the_relay(browser_gated_agents, caplog):
    caplog.set_level(logging.INFO, "langchain_cloudflare_playground")
    async with client_for(
        browser_gated_agents, transport="browser", timeout=1, max_retries=0
    ) as client:
        with pytest.raises(RateLimitError, match="3021"):
            await client.achat("[rate-limit]")
        started = time.monotonic()
        with pytest.raises(PlaygroundTimeoutError, match="no frame from the playground for 1 s"):
            await client.achat("[slow:8000]")
        # Silence is resumed in the room twice (after 0.2 s and 0.8 s), then the timeout stands,
        # before the reply's first text (8 s) would have come.
        took = time.monotonic() - started
        resumes = [r for r in caplog.records if "resumed the running reply" in r.getMessage()]
        assert len(resumes) == 2
        assert 3 * 1 + 0.2 + 0.8 <= took < 8
        assert (await client.achat("[long:5]")).text == "t0 t1 t2 t3 t4 "


async def test_the_relay_starts_a_new_browser_if_its_browser_died(browser_gated_agents):
    async with client_for(browser_gated_agents, transport="browser") as client:
        assert (await client.achat("one")).text.startswith("Echo from")
        relay = client._router.relay.browser
        dead = relay._chromium
        os.killpg(dead.pid, signal.SIGKILL)  # the browser crashes between two conversations
        await asyncio.sleep(0.2)
        assert (await client.achat("two")).text.startswith("Echo from")
        assert relay._chromium is not dead
