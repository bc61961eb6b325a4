"""Browser-backed sessions: real headless Chromium, driven by nodriver, against loopback servers.

The servers stand in for Cloudflare's edge: the site page sits behind a challenge interstitial
that clears itself by script, the page sets one HttpOnly cookie by header and one by script after
a delay, and the API refuses requests without both.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import subprocess
import sys
import time

import pytest

from langchain_cloudflare_playground.client import (
    ChallengeError,
    PlaygroundClient,
    SessionCache,
    SiteSession,
)
from langchain_cloudflare_playground.client.browser import (
    BrowserSessionSource,
    BrowserUnavailableError,
    BrowserWithFallbackSource,
)
from tests.agents_worker import CHAT_MODEL_COUNT, AgentsServer
from tests.helpers import (
    chromium_processes,
    our_profiles,
    require_agents_server,
    require_tool,
    run_cli,
)
from tests.reference_server import ReferenceServer


@pytest.fixture(scope="module")
def chromium():
    return require_tool("chromium")


@pytest.fixture(scope="module", autouse=True)
def no_chromium_outlives_the_tests(chromium):
    before = chromium_processes()
    yield
    deadline = time.monotonic() + 5
    while chromium_processes() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert chromium_processes() - before == set()
    assert our_profiles() == []


@pytest.fixture(autouse=True)
def no_chromium_outlives_a_test():
    before = chromium_processes()
    yield
    assert chromium_processes() - before == set()  # checked at once: stop() waits for them


@pytest.fixture(scope="module")
def gated_http():
    with ReferenceServer("data-stream", gate=True) as server:
        yield server


@pytest.fixture(scope="module")
def gated_agents():
    require_agents_server()
    with AgentsServer(gate="cookie") as server:
        yield server


def browser(**overrides) -> BrowserSessionSource:
    return BrowserSessionSource(**{"deadline": 20.0, **overrides})


async def test_acquisition_gets_past_the_challenge_with_every_cookie(gated_http):
    args = await browser().acquire(gated_http.url)
    assert args.source == "browser"
    assert args.cookies["cf_clearance"] == "cleared-by-browser"  # HttpOnly, set by header
    assert args.cookies["pg_js"] == "set-by-script"  # set by script after a delay
    assert set(args.cookie_expiries) >= {"cf_clearance", "pg_js"}
    assert args.cookie_expiries["cf_clearance"] > time.time() + 1000
    assert "HeadlessChrome" not in args.user_agent
    assert "Chrome/" in args.user_agent
    major = args.user_agent.split("Chrome/")[1].split(".")[0]
    assert f'"Google Chrome";v="{major}"' in args.headers["sec-ch-ua"]  # hints agree with it
    page_request = next(r for r in gated_http.requests if r.path == "/")
    seen = {name.lower(): value for name, value in page_request.headers.items()}
    assert seen["user-agent"] == args.user_agent  # what the site saw
    assert f'v="{major}"' in seen["sec-ch-ua"]
    assert our_profiles() == []


async def test_a_refused_session_is_refreshed_by_the_browser_and_the_call_retried(gated_http):
    gated_http.requests.clear()
    cache = SessionCache()
    cache.save(
        gated_http.url, SiteSession(user_agent="old", cookies={"cf_clearance": "expired-value"})
    )
    async with PlaygroundClient(
        gated_http.url, wire_format="http", session_source=browser(), transport="direct"
    ) as client:  # the direct transport alone: the fresh session is what gets it in
        reply = await client.achat("through the gate")
        assert client.sessions.acquisitions == 1
    assert reply.text.startswith("Echo: through the gate")
    api = [r for r in gated_http.requests if r.path == "/api/inference"]
    assert api[0].cookies == {"cf_clearance": "expired-value"}  # refused
    assert api[1].cookies["cf_clearance"] == "cleared-by-browser"  # the fresh session
    saved = cache.load(gated_http.url)
    assert saved is not None
    assert saved.source == "browser"
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600


async def test_warm_cache_means_no_browser_and_cold_calls_share_one(gated_http):
    cold = PlaygroundClient(gated_http.url, wire_format="http", session_source=browser())
    try:
        replies = await asyncio.gather(*(cold.achat(f"cold {i}") for i in range(50)))
        assert [r.text.split(" |")[0] for r in replies] == [f"Echo: cold {i}" for i in range(50)]
        assert cold.sessions.acquisitions == 1  # fifty cold calls, one browser
    finally:
        await cold.aclose()
    warm = PlaygroundClient(gated_http.url, wire_format="http", session_source=browser())
    try:
        for i in range(100):
            await warm.achat(f"warm {i}")
        assert warm.sessions.acquisitions == 0  # the cache was enough: no browser at all
    finally:
        await warm.aclose()


async def test_the_agents_frames_through_the_gate(gated_agents):
    async with PlaygroundClient(
        gated_agents.url, wire_format="agents", session_source=browser()
    ) as client:
        reply = await client.achat("hello through the gate")
        models = await client.alist_models()
        assert client.sessions.acquisitions == 1
    assert reply.text.startswith("Echo from the mock model.")
    assert len(models) == CHAT_MODEL_COUNT


async def test_a_second_refusal_raises_the_challenge_error_with_advice(gated_agents):
    # GATE=cookie lets a browser session through; a source whose session the site refuses
    # (defaults, no cookies) gets one refresh, then the error.
    async with PlaygroundClient(gated_agents.url, wire_format="agents", browser=False) as client:
        with pytest.raises(ChallengeError, match="browser"):
            await client.achat("x")
        assert client.sessions.acquisitions == 2  # the first session, then one fresh one


async def test_cancelling_mid_acquisition_leaves_no_browser(gated_http):
    task = asyncio.create_task(browser().acquire(gated_http.url))
    deadline = time.monotonic() + 10
    while not our_profiles() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)  # the browser is up and on the interstitial
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert our_profiles() == []


async def test_a_page_that_never_clears_hits_the_deadline(gated_http):
    gated_http.challenge_forever = True
    try:
        started = time.monotonic()
        with pytest.raises(ChallengeError, match="--headful"):
            await browser(deadline=2.0).acquire(gated_http.url)
        assert time.monotonic() - started < 8
    finally:
        gated_http.challenge_forever = False
    assert our_profiles() == []


async def test_a_page_that_never_answers_hits_the_deadline(gated_http):
    gated_http.page_never_answers = True
    try:
        started = time.monotonic()
        with pytest.raises(ChallengeError, match="within 2 s"):
            await browser(deadline=2.0).acquire(gated_http.url)
        assert time.monotonic() - started < 8
    finally:
        gated_http.page_never_answers = False
    assert our_profiles() == []


async def test_a_missing_browser_names_the_fix(gated_http):
    with pytest.raises(BrowserUnavailableError, match=r"CHROME_PATH"):
        await browser(executable="/nonexistent/chromium").acquire(gated_http.url)


async def test_a_browser_that_exits_at_start_up(gated_http, tmp_path):
    broken = tmp_path / "broken-chromium"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(BrowserUnavailableError, match="exited at start-up"):
        await browser(executable=str(broken)).acquire(gated_http.url)
    assert our_profiles() == []


async def test_without_a_browser_the_client_keeps_working_with_default_headers(server, caplog):
    source = BrowserWithFallbackSource(browser(executable="/nonexistent/chromium"))
    with caplog.at_level(logging.WARNING):
        async with PlaygroundClient(server.url, session_source=source) as client:
            assert (await client.achat("plain")).text.startswith("Echo: plain")
    assert "using browser-like default headers" in caplog.text


def test_cli_session_refresh_show_and_clear(gated_http, isolated_session_cache):
    refreshed = run_cli("session", "refresh", "--base-url", gated_http.url)
    assert refreshed.returncode == 0, refreshed.stderr
    assert "fresh browser session saved" in refreshed.stdout
    shown = run_cli("session", "show")
    assert shown.returncode == 0, shown.stderr
    assert str(isolated_session_cache / "session.json") in shown.stdout
    assert "cf_clearance" in shown.stdout
    assert "pg_js" in shown.stdout
    assert "expires:" in shown.stdout
    assert "cleared-by-browser" not in shown.stdout + refreshed.stdout  # names, never values
    assert "set-by-script" not in shown.stdout + refreshed.stdout
    # The refreshed session is what the next chat uses: no browser, straight through the gate.
    chat = run_cli("chat", "through", "--base-url", gated_http.url, "--wire-format", "http")
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.startswith("Echo: through")
    assert run_cli("session", "clear").returncode == 0
    assert "no cached session" in run_cli("session", "show").stdout


def _chat_with_the_default_source(url: str) -> subprocess.CompletedProcess[str]:
    # A process of its own, so "was nodriver imported?" is about this chat alone.
    code = (
        "import sys\n"
        "from langchain_cloudflare_playground.client import PlaygroundClient\n"
        f"with PlaygroundClient({url!r}, wire_format='http') as client:\n"
        "    reply = client.chat('by default')\n"
        "    print(reply.text[:24], client.sessions.acquisitions, 'nodriver' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CF_PLAYGROUND_BROWSER"}
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_by_default_no_browser_until_a_site_refuses(server, gated_http, chromium):
    # A playground that takes plain clients: default headers, and nodriver is never imported.
    plain = _chat_with_the_default_source(server.url)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith("Echo: by default")
    assert plain.stdout.split()[-2:] == ["1", "False"]  # one session, from default headers

    # One that refuses them: the browser, once refused, and the call still succeeds.
    gated = _chat_with_the_default_source(gated_http.url)
    assert gated.returncode == 0, gated.stderr
    assert gated.stdout.split()[-2:] == ["2", "True"]  # defaults, then the browser
    assert gated.stdout.startswith("Echo: by default")
