"""The transport ladder, against the real Agents server behind the TLS test edge.

The edge judges each TLS ClientHello as Cloudflare's does: aiohttp's (OpenSSL) is refused,
curl_cffi impersonating Chrome and real Chromium are let through. Where a test needs a site that
refuses the impersonating client too, the Agents server's own stand-in gate (``GATE=browser``:
browser cookies, and the compression offer every Chromium upgrade makes) stands behind the edge:
it plays an edge that sees past impersonation, which only the in-page relay gets through.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from langchain_cloudflare_playground.client import (
    ChallengeError,
    HandshakeRefusedError,
    PlaygroundClient,
    SessionCache,
    UpgradeRefusedError,
)
from tests.agents_worker import AgentsServer
from tests.helpers import chromium_processes, our_profiles, require_agents_server, require_tool
from tests.tls_edge import TlsEdge

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.network_server

ECHO = "Echo from the mock model."


def verdicts(edge: TlsEdge) -> list[str | None]:
    return [seen.verdict for seen in edge.seen]


def ladder_client(edge: TlsEdge, certificates, cache_path: Path, **options) -> PlaygroundClient:
    return PlaygroundClient(
        edge.url,
        wire_format="agents",
        verify=str(certificates.ca_path),
        session_cache=SessionCache(cache_path),
        timeout=20,
        **options,
    )


@pytest.fixture
def browser_allowed(monkeypatch):
    """Chromium may be started (the suite forbids it elsewhere); none is left running after."""
    require_tool("chromium")
    monkeypatch.delenv("CF_PLAYGROUND_BROWSER", raising=False)
    before = chromium_processes()
    yield before
    deadline = time.monotonic() + 10
    while chromium_processes() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert chromium_processes() - before == set()
    assert our_profiles() == []


# -- climbing ---------------------------------------------------------------------------------


async def test_auto_climbs_from_direct_to_impersonation_and_starts_no_browser(
    gated_agents_server, tls_certificates, tmp_path, browser_allowed
):
    cache_path = tmp_path / "session.json"
    async with ladder_client(gated_agents_server, tls_certificates, cache_path) as client:
        reply = await client.achat("Hi")
        again = await client.achat("Hi again")  # stays on the rung that worked
        started_browsers = chromium_processes() - browser_allowed
    assert reply.text.startswith(ECHO)
    assert again.text.startswith(ECHO)
    assert started_browsers == set()
    # One refused handshake (aiohttp's), then only Chrome-like ones.
    assert verdicts(gated_agents_server)[0] == "not-browser"
    assert set(verdicts(gated_agents_server)[1:]) == {"browser"}
    assert verdicts(gated_agents_server).count("not-browser") == 1
    remembered = SessionCache(cache_path).load_transport(gated_agents_server.url)
    assert remembered is not None
    assert remembered.rung == "impersonate"
    assert remembered.until > time.time() + 3600


def test_a_second_process_starts_on_the_remembered_rung(
    gated_agents_server, tls_certificates, tmp_path
):
    cache_path = tmp_path / "session.json"
    SessionCache(cache_path).save_transport(gated_agents_server.url, "impersonate")
    script = (
        "import sys\n"
        "from langchain_cloudflare_playground.client import PlaygroundClient, SessionCache\n"
        "client = PlaygroundClient(sys.argv[1], wire_format='agents', verify=sys.argv[2],"
        " session_cache=SessionCache(sys.argv[3]), browser=False)\n"
        "print(client.chat('Hi').text)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, gated_agents_server.url, tls_certificates.ca_path,
         str(cache_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(ECHO)
    assert verdicts(gated_agents_server) == ["browser"]  # no direct attempt first


async def test_an_expired_memory_starts_from_the_bottom_again(
    gated_agents_server, tls_certificates, tmp_path
):
    cache_path = tmp_path / "session.json"
    SessionCache(cache_path).save_transport(gated_agents_server.url, "impersonate", seconds=-1)
    async with ladder_client(
        gated_agents_server, tls_certificates, cache_path, browser=False
    ) as client:
        assert (await client.achat("Hi")).text.startswith(ECHO)
    assert verdicts(gated_agents_server)[0] == "not-browser"


async def test_a_refused_tls_handshake_climbs_like_a_403(agents_server, tls_certificates, tmp_path):
    with TlsEdge(agents_server.port, tls_certificates, refusal="handshake") as edge:
        async with PlaygroundClient(
            edge.url, wire_format="agents", verify=tls_certificates.ca_path, transport="direct",
            session_cache=False, browser=False, max_retries=0,
        ) as pinned:  # fmt: skip
            with pytest.raises(HandshakeRefusedError, match="refused the TLS handshake"):
                await pinned.achat("Hi")
        async with ladder_client(edge, tls_certificates, tmp_path / "s.json", browser=False) as c:
            assert (await c.achat("Hi")).text.startswith(ECHO)
    assert "not-browser" in verdicts(edge)
    assert verdicts(edge)[-1] == "browser"


# -- a site that sees past impersonation: the relay ----------------------------------------


@pytest.fixture(scope="module")
def strict_agents_server():
    """The Agents server behind its stand-in gate that only a real browser passes."""
    require_agents_server()
    with AgentsServer(gate="browser") as server:
        yield server


@pytest.fixture
def strict_edge(strict_agents_server, tls_certificates):
    with TlsEdge(strict_agents_server.port, tls_certificates) as edge:
        yield edge


async def test_each_rung_refused_in_turn_leads_to_the_next(
    strict_edge, tls_certificates, tmp_path, browser_allowed
):
    cache_path = tmp_path / "session.json"
    async with ladder_client(strict_edge, tls_certificates, cache_path) as client:
        reply = await client.achat("Hi")
        rung = client._router.ladder.current
        refused = [name for name, _ in client._router.ladder.refusals]
    assert reply.text.startswith(ECHO)
    assert rung == "browser"
    assert refused[0] == "direct"
    assert "impersonate" in refused
    assert verdicts(strict_edge)[0] == "not-browser"  # aiohttp, refused by the TLS edge
    assert SessionCache(cache_path).load_transport(strict_edge.url).rung == "browser"


async def test_every_rung_refused_gives_one_error_that_says_what_to_do(
    strict_edge, tls_certificates, tmp_path
):
    async with ladder_client(
        strict_edge, tls_certificates, tmp_path / "s.json", browser=False
    ) as client:
        with pytest.raises(ChallengeError) as caught:
            await client.achat("Hi")
    message = str(caught.value)
    assert "refused every transport tried" in message
    assert "direct (aiohttp)" in message
    assert "impersonating Chrome (curl_cffi)" in message
    assert "[browser]" in message  # what to install for the rung that was not there
    assert "Chromium" in message
    assert not SessionCache(tmp_path / "s.json").transports()  # nothing worked: nothing kept


def test_without_curl_cffi_the_ladder_skips_impersonation_and_says_to_install_it(
    gated_agents_server, tls_certificates, tmp_path
):
    script = (
        "import sys\n"
        "sys.modules['curl_cffi'] = None  # as if the impersonate extra were not installed\n"
        "from langchain_cloudflare_playground.client import ChallengeError, PlaygroundClient\n"
        "client = PlaygroundClient(sys.argv[1], wire_format='agents', verify=sys.argv[2],"
        " session_cache=False, browser=False)\n"
        "try:\n"
        "    client.chat('Hi')\n"
        "except ChallengeError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(3)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, gated_agents_server.url, tls_certificates.ca_path],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "CF_PLAYGROUND_BROWSER": "0"},
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "[impersonate]" in done.stdout
    assert set(verdicts(gated_agents_server)) == {"not-browser"}  # nothing but aiohttp tried


# -- pinned transports --------------------------------------------------------------------------


async def test_pinned_direct_never_climbs(gated_agents_server, tls_certificates, tmp_path):
    async with ladder_client(
        gated_agents_server, tls_certificates, tmp_path / "s.json", transport="direct",
        browser=False,
    ) as client:  # fmt: skip
        with pytest.raises(UpgradeRefusedError) as caught:
            await client.achat("Hi")
    assert set(verdicts(gated_agents_server)) == {"not-browser"}
    assert "refused every transport" not in str(caught.value)  # the plain refusal: no ladder


async def test_pinned_impersonation_goes_straight_through(
    gated_agents_server, tls_certificates, tmp_path
):
    async with ladder_client(
        gated_agents_server, tls_certificates, tmp_path / "s.json", transport="impersonate",
        browser=False,
    ) as client:  # fmt: skip
        assert (await client.achat("Hi")).text.startswith(ECHO)
        assert len(await client.alist_models()) > 0
    assert set(verdicts(gated_agents_server)) == {"browser"}
    assert not SessionCache(tmp_path / "s.json").transports()  # a pinned rung is not learned


async def test_pinned_browser_relays_even_where_impersonation_would_do(
    gated_agents_server, tls_certificates, tmp_path, browser_allowed
):
    async with ladder_client(
        gated_agents_server, tls_certificates, tmp_path / "s.json", transport="browser"
    ) as client:
        assert (await client.achat("Hi")).text.startswith(ECHO)
        assert len(our_profiles()) == 1  # the relay's browser
    assert set(verdicts(gated_agents_server)) == {"browser"}


def test_session_show_says_which_rung_is_remembered(tmp_path):
    cache = SessionCache(tmp_path / "session.json")
    cache.save_transport("https://playground.example", "impersonate")
    done = subprocess.run(
        [sys.executable, "-m", "langchain_cloudflare_playground.cli", "session", "show"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "CF_PLAYGROUND_CACHE_DIR": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "https://playground.example:" in done.stdout
    assert "transport:  impersonate" in done.stdout
    assert "the next run starts there" in done.stdout
    document = json.loads((tmp_path / "session.json").read_text())
    assert document["transports"]["https://playground.example"]["rung"] == "impersonate"
