"""The impersonating transport (curl_cffi) against real servers, most of them behind the TLS edge.

The edge (``tests/tls_edge.py``) lets through only a Chrome-like ClientHello, as Cloudflare does:
these tests prove the transport gets chats, model lists and WebSockets past it where aiohttp is
refused, and that it keeps the aiohttp transport's promises (trust, proxy, timeouts,
cancellation leaving nothing behind, cookies owned by the session store, secrets kept out of
errors, cassettes).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import time
import traceback
from typing import TYPE_CHECKING

import pytest
import vcr
from curl_cffi.requests import AsyncSession
from llama_index.core.llms import ChatMessage
from pytest_socket import disable_socket, enable_socket
from vcr.errors import CannotOverwriteExistingCassetteException

from langchain_cloudflare_playground import ChatCloudflarePlayground
from langchain_cloudflare_playground.client import (
    CertificateError,
    ChallengeError,
    NotFoundError,
    PlaygroundClient,
    PlaygroundConnectionError,
    PlaygroundError,
    PlaygroundTimeoutError,
    RateLimitError,
    TextDelta,
    UpgradeRefusedError,
)
from langchain_cloudflare_playground.client.transports.base import HttpRequest, WebSocketRequest
from langchain_cloudflare_playground.client.transports.impersonating_transport import (
    CHROME_IDENTITIES,
    DEFAULT_IMPERSONATE,
    ImpersonatingTransport,
)
from langchain_cloudflare_playground.testing import cassette_patches
from llama_index_cloudflare_playground import CloudflarePlayground
from tests.helpers import client_sockets_to, running_tinyproxy, settled
from tests.reference_server import Fault, free_port
from tests.tls_edge import TestCertificates, TlsEdge

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.reference_server import RecordedRequest

pytestmark = pytest.mark.network_server

IDENTITY_HEADERS = ("user-agent", "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform")
CHAT_BODY = {
    "messages": [{"role": "user", "content": "hi"}],
    "model": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    "max_tokens": 64,
    "stream": True,
}
SECRET_COOKIE = "SECRET-cookie-61d0c2aa"
SECRET_PASSWORD = "SECRET-proxy-0b7e3f19"


def sent_identity(request: RecordedRequest) -> dict[str, str]:
    headers = {name.lower(): value for name, value in request.headers.items()}
    return {name: headers.get(name, "") for name in IDENTITY_HEADERS}


def expected_identity(transport: ImpersonatingTransport) -> dict[str, str]:
    return {"user-agent": transport.user_agent, **transport.client_hints}


async def chat_text(client: PlaygroundClient, prompt: str) -> str:
    return "".join([e.text async for e in client.astream_chat(prompt) if isinstance(e, TextDelta)])


# -- through the gate ------------------------------------------------------------------------


async def test_http_chat_and_models_pass_the_gate(gated_server, server, tls_certificates):
    async with PlaygroundClient(
        gated_server.url,
        transport="impersonate",
        verify=tls_certificates.ca_path,
        wire_format="http",
        session_cache=False,
        max_retries=0,
    ) as client:
        text = await chat_text(client, "through the gate")
        models = await client.alist_models()
    transport = ImpersonatingTransport()  # what transport="impersonate" builds
    assert text.startswith("Echo: through the gate")
    assert any(m.alias == "qwq-32b" for m in models)
    assert gated_server.seen
    assert {seen.verdict for seen in gated_server.seen} == {"browser"}
    assert [r.path for r in server.requests] == ["/api/inference", "/api/models"]
    for request in server.requests:
        assert sent_identity(request) == expected_identity(transport)


async def test_agents_websocket_chat_and_models_pass_the_gate(
    gated_agents_server, tls_certificates
):
    async with PlaygroundClient(
        gated_agents_server.url,
        transport="impersonate",
        verify=tls_certificates.ca_path,
        wire_format="agents",
        session_cache=False,
        max_retries=0,
    ) as client:
        text = await chat_text(client, "over the socket")
        models = await client.alist_models()
    assert text.startswith("Echo from the mock model.")
    assert "last user: over the socket" in text
    assert len(models) > 3
    assert len(gated_agents_server.seen) >= 2  # a socket for the chat, one for the models
    assert {seen.verdict for seen in gated_agents_server.seen} == {"browser"}


async def test_aiohttp_is_refused_by_the_same_gate(
    gated_server, gated_agents_server, tls_certificates
):
    options = {
        "verify": tls_certificates.ca_path,
        "session_cache": False,
        "max_retries": 0,
        "transport": "direct",  # aiohttp alone: the ladder would climb past the refusal
    }
    async with PlaygroundClient(
        gated_server.url, wire_format="http", browser=False, **options
    ) as c:
        with pytest.raises(ChallengeError):
            await c.achat("x")
    async with PlaygroundClient(
        gated_agents_server.url, wire_format="agents", browser=False, **options
    ) as c:
        with pytest.raises(UpgradeRefusedError):
            await c.achat("x")
    assert {s.verdict for s in gated_server.seen + gated_agents_server.seen} == {"not-browser"}


async def test_the_websocket_upgrade_carries_the_impersonated_identity(
    sse_server, tls_certificates
):
    with TlsEdge(sse_server.port, tls_certificates) as edge:
        transport = ImpersonatingTransport(verify=str(tls_certificates.ca_path), timeout=5)
        sse_server.push(Fault(websocket=True), route="agents")
        websocket = await transport.open_websocket(
            WebSocketRequest(
                f"{edge.ws_url}/agents/playground/room",
                headers={"User-Agent": "Chrome/999 from the session", "sec-ch-ua": '"x";v="1"'},
            )
        )
        try:
            assert '"cf_agent_identity"' in await websocket.receive()
        finally:
            await websocket.close()
            await transport.aclose()
    assert edge.seen[0].verdict == "browser"
    upgrade = sse_server.requests[-1]
    assert upgrade.headers.get("Upgrade", "").lower() == "websocket"
    assert sent_identity(upgrade) == expected_identity(transport)


async def test_the_sessions_user_agent_and_hints_are_replaced(sse_server):
    async with PlaygroundClient(
        sse_server.url,
        transport="impersonate",
        wire_format="http",
        session_cache=False,
        user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0.0.0",
        headers={"sec-ch-ua-full-version-list": '"Chromium";v="156.0.1"', "X-Kept": "yes"},
    ) as client:
        await client.achat("x")
    request = sse_server.inference_requests[-1]
    identity = CHROME_IDENTITIES[DEFAULT_IMPERSONATE]
    assert sent_identity(request) == {"user-agent": identity.user_agent, **identity.client_hints}
    assert "Sec-CH-UA-Full-Version-List" not in request.headers
    assert request.headers["X-Kept"] == "yes"
    assert "Chrome/152." in identity.user_agent


@pytest.mark.parametrize("target", sorted(CHROME_IDENTITIES))
async def test_identity_is_what_curl_impersonate_itself_sends(target, sse_server):
    async with AsyncSession(impersonate=target) as session:  # curl_cffi's default headers
        await session.get(f"{sse_server.url}/api/models")
    transport = ImpersonatingTransport(impersonate=target)
    async with transport.stream(HttpRequest("GET", f"{sse_server.url}/api/models")) as response:
        await response.aread()
    await transport.aclose()
    by_curl, by_us = sse_server.requests
    assert sent_identity(by_curl) == sent_identity(by_us) == expected_identity(transport)
    assert f"Chrome/{target.removeprefix('chrome')}.0.0.0" in transport.user_agent


def test_an_unknown_target_is_refused():
    with pytest.raises(ValueError, match="chrome152"):
        ImpersonatingTransport(impersonate="firefox155")


# -- trust -----------------------------------------------------------------------------------


async def test_ssl_cert_file_is_honoured(gated_server, tls_certificates, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_certificates.ca_path))
    async with PlaygroundClient(
        gated_server.url, transport="impersonate", wire_format="http", session_cache=False
    ) as client:
        assert (await client.achat("trusted by env")).text.startswith("Echo: trusted by env")


@pytest.mark.parametrize("trust", ["system", "another-ca"])
async def test_an_untrusted_certificate_is_a_certificate_error_with_advice(
    trust, gated_server, tmp_path, monkeypatch
):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    verify = True if trust == "system" else str(TestCertificates.create(tmp_path).ca_path)
    async with PlaygroundClient(
        gated_server.url,
        transport="impersonate",
        verify=verify,
        wire_format="http",
        session_cache=False,
    ) as client:
        started = time.monotonic()
        with pytest.raises(CertificateError, match="SSL_CERT_FILE") as caught:
            await client.achat("x")
    assert time.monotonic() - started < 5  # not retried
    assert "verify=" in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


async def test_verify_false_checks_nothing(gated_server):
    async with PlaygroundClient(
        gated_server.url,
        transport="impersonate",
        verify=False,
        wire_format="http",
        session_cache=False,
    ) as client:
        assert (await client.achat("unchecked")).text.startswith("Echo: unchecked")


# -- proxy -----------------------------------------------------------------------------------


@pytest.fixture
def tinyproxy(tmp_path) -> Iterator[tuple[str, Callable[[], str]]]:
    """A tinyproxy of this test's own that tunnels to any port (the edge's is random)."""
    with running_tinyproxy(tmp_path, any_port=True) as (url, log):
        yield url, log.read_text


async def test_https_and_wss_go_through_the_proxy_with_chromes_handshake(
    tinyproxy, gated_server, gated_agents_server, tls_certificates
):
    proxy_url, read_log = tinyproxy
    options = {
        "transport": "impersonate",
        "verify": tls_certificates.ca_path,
        "proxy": proxy_url,
        "session_cache": False,
        "max_retries": 0,
    }
    async with PlaygroundClient(gated_server.url, wire_format="http", **options) as client:
        assert (await client.achat("proxied")).text.startswith("Echo: proxied")
    async with PlaygroundClient(gated_agents_server.url, wire_format="agents", **options) as c:
        assert (await c.achat("proxied socket")).text.startswith("Echo from the mock model.")
    log = read_log()
    assert f"CONNECT 127.0.0.1:{gated_server.port}" in log
    assert f"CONNECT 127.0.0.1:{gated_agents_server.port}" in log
    assert {s.verdict for s in gated_server.seen + gated_agents_server.seen} == {"browser"}


async def test_plain_http_goes_through_the_proxy(tinyproxy, sse_server):
    proxy_url, _ = tinyproxy
    async with PlaygroundClient(
        sse_server.url, transport="impersonate", proxy=proxy_url, session_cache=False
    ) as client:
        await client.achat("x")
    assert "tinyproxy" in sse_server.inference_requests[-1].headers.get("Via", "")


async def test_a_dead_proxy_is_a_connection_error_without_its_password(sse_server):
    proxy = f"http://user:{SECRET_PASSWORD}@127.0.0.1:{free_port()}"
    transport = ImpersonatingTransport(proxy=proxy, timeout=5)
    assert SECRET_PASSWORD not in repr(transport)
    assert "127.0.0.1" in repr(transport)
    async with PlaygroundClient(
        sse_server.url, transport=transport, session_cache=False, max_retries=0
    ) as client:
        with pytest.raises(PlaygroundConnectionError, match="proxy") as caught:
            await client.achat("x")
        with pytest.raises(PlaygroundConnectionError, match="proxy") as caught_ws:
            await transport.open_websocket(WebSocketRequest(f"ws://127.0.0.1:{sse_server.port}/"))
    assert_no_secret(caught.value, caught_ws.value)
    assert sse_server.requests == []


# -- errors, timeouts ------------------------------------------------------------------------


def error_texts(error: BaseException) -> list[str]:
    """What a traceback, a log line or an error tracker could show of ``error`` and its chain."""
    texts = ["".join(traceback.format_exception(error))]
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None:
            continue
        texts += [str(current), repr(current), repr(current.args), repr(vars(current))]
        pending += [current.__cause__, current.__context__]
    return texts


def assert_no_secret(*errors: BaseException) -> None:
    for error in errors:
        for text in error_texts(error):
            assert SECRET_COOKIE not in text
            assert SECRET_PASSWORD not in text


async def test_refused_connection_and_reset_are_connection_errors(sse_server):
    transport = ImpersonatingTransport(timeout=5)
    headers = {"Cookie": f"cf_clearance={SECRET_COOKIE}"}
    with pytest.raises(PlaygroundConnectionError, match="cannot reach") as refused:
        async with transport.stream(
            HttpRequest("POST", f"http://127.0.0.1:{free_port()}/api/inference", headers, {})
        ):
            pass
    sse_server.push(Fault(reset_before_status=True))
    with pytest.raises(PlaygroundConnectionError) as reset:
        async with transport.stream(
            HttpRequest("POST", f"{sse_server.url}/api/inference", headers, CHAT_BODY)
        ) as response:
            await response.aread()
    sse_server.push(Fault(cut_after=1))
    with pytest.raises(PlaygroundConnectionError) as cut:
        async with transport.stream(
            HttpRequest("POST", f"{sse_server.url}/api/inference", headers, CHAT_BODY)
        ) as response:
            await response.aread()
    await transport.aclose()
    assert sse_server.inference_requests[0].cookies == {"cf_clearance": SECRET_COOKIE}
    assert_no_secret(refused.value, reset.value, cut.value)
    for error in (refused.value, reset.value, cut.value):
        assert error.__cause__ is None
        assert error.__context__ is None


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault(stall_before=5), "no data from the playground for 0.5 s"),
        (Fault(stall_after=(1, 5)), "no data from the playground for 0.5 s"),
        (Fault(trickle=0.05), "total_timeout=1"),
    ],
    ids=["before-headers", "mid-body", "total"],
)
async def test_idle_and_total_timeouts(fault, expected, sse_server):
    transport = ImpersonatingTransport(timeout=0.5, total_timeout=1.0)
    sse_server.push(fault)
    started = time.monotonic()
    received = b""
    with pytest.raises(PlaygroundTimeoutError, match=expected):
        async with transport.stream(
            HttpRequest("POST", f"{sse_server.url}/api/inference", json=CHAT_BODY)
        ) as response:
            async for chunk in response.iter_bytes():
                received += chunk
    elapsed = time.monotonic() - started
    await transport.aclose()
    assert 0.4 < elapsed < 4.0  # the timeout or the budget, long before the 5 s stall ends
    if fault.stall_after or fault.trickle:
        assert received  # the timeout cut a reply that had started


async def test_a_silent_websocket_times_out(sse_server):
    transport = ImpersonatingTransport(timeout=0.5, total_timeout=None)
    sse_server.push(Fault(websocket=True), route="agents")
    websocket = await transport.open_websocket(
        WebSocketRequest(f"ws://127.0.0.1:{sse_server.port}/agents/playground/room")
    )
    try:
        for _ in range(3):  # identity, state, MCP servers; then nothing until a chat request
            await websocket.receive()
        started = time.monotonic()
        with pytest.raises(PlaygroundTimeoutError, match=r"0\.5 s"):
            await websocket.receive()
        assert 0.4 < time.monotonic() - started < 2 * 0.5 + 1  # the timeout, once
    finally:
        await websocket.close()
        await transport.aclose()


def test_an_upgrade_never_answered_times_out_and_leaves_no_thread_behind():
    """curl's handshake runs in a thread nothing can interrupt; it must end by itself.

    A server that accepts and never answers the upgrade once kept that thread, and with it the
    end of ``asyncio.run`` (which joins the loop's threads), waiting forever.
    """
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (the backlog), never reads

    async def upgrade() -> None:
        transport = ImpersonatingTransport(timeout=1, total_timeout=None)
        try:
            with pytest.raises(PlaygroundTimeoutError):
                await transport.open_websocket(
                    WebSocketRequest(f"ws://127.0.0.1:{silent.getsockname()[1]}/agents/x/y")
                )
        finally:
            await transport.aclose()

    started = time.monotonic()
    try:
        asyncio.run(upgrade())  # returns only once the loop's worker threads have ended
    finally:
        silent.close()
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("fault", "expected", "retry_after"),
    [
        (None, NotFoundError, None),
        (Fault(status=403), UpgradeRefusedError, None),
        (Fault(status=429, retry_after="7"), RateLimitError, 7.0),
    ],
    ids=["404", "403", "429"],
)
async def test_a_refused_upgrade_is_the_typed_error_for_its_status(
    fault, expected, retry_after, sse_server
):
    transport = ImpersonatingTransport(timeout=5)
    if fault is not None:
        sse_server.push(fault, route="agents")
    with pytest.raises(expected) as caught:
        await transport.open_websocket(
            WebSocketRequest(
                f"ws://127.0.0.1:{sse_server.port}/agents/playground/room",
                headers={"Cookie": f"cf_clearance={SECRET_COOKIE}"},
            )
        )
    await transport.aclose()
    assert caught.value.retry_after == retry_after
    assert caught.value.__context__ is None
    assert_no_secret(caught.value)


async def test_the_client_falls_back_to_http_on_a_404_upgrade(sse_server):
    async with PlaygroundClient(
        sse_server.url, transport="impersonate", session_cache=False
    ) as client:
        assert (await client.achat("auto")).text.startswith("Echo: auto")
    paths = [r.path for r in sse_server.requests]
    assert paths[0].startswith("/agents/playground/")
    assert paths[1:] == ["/api/inference"]


# -- cookies ---------------------------------------------------------------------------------


async def test_set_cookies_come_back_whole_and_curl_keeps_none(sse_server):
    transport = ImpersonatingTransport(timeout=5)
    sse_server.push(Fault(set_cookies={"__cf_bm": "one", "other": "two"}))
    async with transport.stream(
        HttpRequest("POST", f"{sse_server.url}/api/inference", json=CHAT_BODY)
    ) as response:
        await response.aread()
        set_cookies = response.header_values("set-cookie")
    async with transport.stream(
        HttpRequest("POST", f"{sse_server.url}/api/inference", {"Cookie": "mine=1"}, CHAT_BODY)
    ) as response:
        await response.aread()
    await transport.aclose()
    assert len(set_cookies) == 2
    assert any(c.startswith("__cf_bm=one") for c in set_cookies)
    assert any(c.startswith("other=two") for c in set_cookies)
    assert sse_server.inference_requests[-1].cookies == {"mine": "1"}  # only the caller's


@pytest.mark.usefixtures("isolated_session_cache")
async def test_server_cookies_reach_the_session_cache_and_are_sent_back(
    gated_server, server, tls_certificates
):
    options = {
        "transport": "impersonate",
        "verify": tls_certificates.ca_path,
        "wire_format": "http",
    }
    server.push(Fault(set_cookies={"__cf_bm": "bm-value"}))
    async with PlaygroundClient(gated_server.url, **options) as client:
        await client.achat("x")
        await client.achat("x")
    assert server.inference_requests[0].cookies == {}
    assert server.inference_requests[1].cookies == {"__cf_bm": "bm-value"}
    async with PlaygroundClient(gated_server.url, **options) as again:  # from the cache
        await again.achat("x")
    assert server.inference_requests[2].cookies == {"__cf_bm": "bm-value"}


# -- secrets ---------------------------------------------------------------------------------


async def test_secrets_stay_out_of_logs_reprs_and_error_chains(sse_server, caplog):
    caplog.set_level(logging.DEBUG)
    transport = ImpersonatingTransport(
        timeout=0.5, proxy=f"http://user:{SECRET_PASSWORD}@127.0.0.1:1"
    )
    direct = ImpersonatingTransport(timeout=0.5)
    errors: list[BaseException] = []
    async with PlaygroundClient(
        sse_server.url,
        transport=direct,
        cookies={"cf_clearance": SECRET_COOKIE},
        session_cache=False,
        max_retries=1,
    ) as client:
        for fault in (
            Fault(reset_before_status=True),
            Fault(stall_before=3),
            Fault(stall_after=(1, 3)),
            Fault(cut_after=1),
        ):
            sse_server.push(fault)
            sse_server.push(fault)  # and its retry
            with pytest.raises(PlaygroundError) as caught:
                await client.achat("x")
            errors.append(caught.value)
        shown = [repr(client), str(client), repr(direct), repr(transport)]
    async with PlaygroundClient(
        sse_server.url, transport=transport, session_cache=False, max_retries=0
    ) as proxied:
        with pytest.raises(PlaygroundConnectionError) as caught:
            await proxied.achat("x")
        errors.append(caught.value)
    assert any(r.cookies.get("cf_clearance") == SECRET_COOKIE for r in sse_server.requests)
    assert_no_secret(*errors)
    for text in [*shown, caplog.text]:
        assert SECRET_COOKIE not in text
        assert SECRET_PASSWORD not in text


# -- cancellation ----------------------------------------------------------------------------


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def other_tasks() -> set[asyncio.Task[object]]:
    return asyncio.all_tasks() - {asyncio.current_task()}


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts TCP and never says a word (a TLS handshake there hangs)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


@pytest.mark.parametrize("stage", ["tls-handshake", "headers", "body", "body-left-early"])
async def test_http_cancellation_leaves_nothing_behind(
    stage, sse_server, data_stream_server, silent_listener
):
    transport = ImpersonatingTransport(timeout=30, total_timeout=None)
    # The loop's curl session exists before the baseline (and keeps a connection to another
    # server in its pool); what the cancelled request opened must all be gone after.
    async with transport.stream(HttpRequest("GET", f"{sse_server.url}/api/models")) as warm:
        await warm.aread()
    fds, tasks = open_fds(), other_tasks()
    url = f"{data_stream_server.url}/api/inference"
    port = data_stream_server.port
    if stage == "tls-handshake":
        url, port = f"https://127.0.0.1:{silent_listener}/api/inference", silent_listener
    data_stream_server.push(
        Fault(stall_before=10) if stage == "headers" else Fault(stall_after=(1, 10))
    )
    started = asyncio.Event()

    async def call() -> None:
        async with transport.stream(HttpRequest("POST", url, json=CHAT_BODY)) as response:
            async for _ in response.iter_bytes():
                started.set()
                if stage == "body-left-early":
                    return

    task = asyncio.create_task(call())
    if stage in ("body", "body-left-early"):
        await asyncio.wait_for(started.wait(), 5)
    else:
        await asyncio.sleep(0.5)
    if stage in {"tls-handshake", "headers"}:
        assert client_sockets_to(port) == 1  # the request is in flight
    if stage != "body-left-early":
        task.cancel()
    await asyncio.wait([task], timeout=5)
    assert task.done()
    assert await settled(lambda: client_sockets_to(port) == 0, 30)
    assert await settled(lambda: other_tasks() == tasks, 30), other_tasks() - tasks
    assert await settled(lambda: open_fds() == fds, 30), open_fds() ^ fds
    # and the transport still works
    async with transport.stream(HttpRequest("GET", f"{sse_server.url}/api/models")) as response:
        assert response.status == 200
        await response.aread()
    await transport.aclose()


async def test_websocket_cancellation_mid_receive_leaves_nothing_behind(
    sse_server, data_stream_server
):
    transport = ImpersonatingTransport(timeout=5, total_timeout=None)
    async with transport.stream(HttpRequest("GET", f"{sse_server.url}/api/models")) as warm:
        await warm.aread()
    fds, tasks = open_fds(), other_tasks()
    port = data_stream_server.port
    data_stream_server.push(Fault(websocket=True), route="agents")
    received = asyncio.Event()

    async def call() -> None:
        websocket = await transport.open_websocket(
            WebSocketRequest(f"ws://127.0.0.1:{port}/agents/playground/room")
        )
        try:
            for _ in range(3):
                await websocket.receive()
            received.set()
            await websocket.receive()  # silent: waits until cancelled
        finally:
            await websocket.close()

    task = asyncio.create_task(call())
    await asyncio.wait_for(received.wait(), 5)
    await asyncio.sleep(0.2)
    assert client_sockets_to(port) == 1
    task.cancel()
    await asyncio.wait([task], timeout=5)
    assert task.done()
    assert await settled(lambda: client_sockets_to(port) == 0, 30)
    assert await settled(lambda: other_tasks() == tasks, 30), other_tasks() - tasks
    assert await settled(lambda: open_fds() == fds, 30), open_fds() ^ fds
    await transport.aclose()


async def test_closing_the_transport_releases_everything(sse_server):
    fds, tasks = open_fds(), other_tasks()
    transport = ImpersonatingTransport(timeout=5)
    async with transport.stream(HttpRequest("GET", f"{sse_server.url}/api/models")) as warm:
        await warm.aread()
    assert client_sockets_to(sse_server.port) == 1  # pooled for the next request
    await transport.aclose()
    assert await settled(lambda: client_sockets_to(sse_server.port) == 0, 30)
    assert await settled(lambda: other_tasks() == tasks, 30)
    assert await settled(lambda: open_fds() == fds, 30), open_fds() ^ fds


def test_sync_calls_from_several_loops(sse_server):
    with PlaygroundClient(sse_server.url, transport="impersonate", session_cache=False) as client:
        assert client.chat("one").text.startswith("Echo: one")
    for prompt in ("two", "three"):  # each asyncio.run is a loop of its own
        client = PlaygroundClient(sse_server.url, transport="impersonate", session_cache=False)
        assert asyncio.run(client.achat(prompt)).text.startswith(f"Echo: {prompt}")


# -- cassettes, adapters, the extra --------------------------------------------------------


async def test_websocket_conversations_record_and_replay_through_it(
    gated_agents_server, tls_certificates, tmp_path
):
    cassette = str(tmp_path / "ws.yaml")
    options = {
        "transport": "impersonate",
        "verify": tls_certificates.ca_path,
        "session_cache": False,
        "wire_format": "agents",
    }
    with vcr.use_cassette(cassette, record_mode="once", custom_patches=cassette_patches()) as rec:
        async with PlaygroundClient(gated_agents_server.url, **options) as client:
            live = await chat_text(client, "recorded")
    assert len(rec) == 1
    connections = len(gated_agents_server.seen)
    disable_socket(allow_unix_socket=True)
    try:
        with vcr.use_cassette(
            cassette, record_mode="none", custom_patches=cassette_patches()
        ) as replayed:
            async with PlaygroundClient(gated_agents_server.url, **options) as client:
                replay = await chat_text(client, "recorded")
        assert replayed.all_played
    finally:
        enable_socket()
    assert replay == live
    assert "last user: recorded" in live
    assert len(gated_agents_server.seen) == connections  # the replay made no connection


async def test_http_chats_and_the_model_list_record_and_replay_through_it(
    gated_server, tls_certificates, tmp_path
):
    """vcrpy cannot see curl_cffi: the cassette transport keeps its HTTP in the cassette."""
    cassette = str(tmp_path / "http.yaml")
    options = {
        "transport": "impersonate",
        "verify": tls_certificates.ca_path,
        "session_cache": False,
        "wire_format": "http",
        "cookies": {"cf_clearance": "secret-in-cassette"},
    }
    with vcr.use_cassette(
        cassette, record_mode="once", custom_patches=cassette_patches(), filter_headers=["cookie"]
    ) as rec:
        async with PlaygroundClient(gated_server.url, **options) as client:
            live = await chat_text(client, "recorded over http")
            live_models = [model.id for model in await client.alist_models()]
    assert len(rec) == 2  # the chat and the model list
    connections = len(gated_server.seen)
    recording = (tmp_path / "http.yaml").read_text()
    assert "secret-in-cassette" not in recording
    disable_socket(allow_unix_socket=True)
    try:
        with vcr.use_cassette(
            cassette, record_mode="none", custom_patches=cassette_patches()
        ) as replayed:
            async with PlaygroundClient(gated_server.url, **options) as client:
                replay = await chat_text(client, "recorded over http")
                replay_models = [model.id for model in await client.alist_models()]
            assert replayed.all_played
            async with PlaygroundClient(gated_server.url, **options) as client:
                with pytest.raises(CannotOverwriteExistingCassetteException):
                    await chat_text(client, "never recorded")
    finally:
        enable_socket()
    assert replay == live
    assert live.startswith("Echo: recorded over http")
    assert replay_models == live_models
    assert len(live_models) > 1
    assert len(gated_server.seen) == connections  # the replay made no connection


def test_langchain_model_through_the_gate(gated_agents_server, tls_certificates):
    llm = ChatCloudflarePlayground(
        base_url=gated_agents_server.url,
        client_options={
            "transport": "impersonate",
            "verify": str(tls_certificates.ca_path),
            "session_cache": False,
        },
    )
    assert llm.invoke("from langchain").content.startswith("Echo from the mock model.")
    chunks = list(llm.stream("streamed"))
    assert len(chunks) > 1
    assert "last user: streamed" in "".join(str(c.content) for c in chunks)
    assert {s.verdict for s in gated_agents_server.seen} == {"browser"}


def test_llama_index_llm_through_the_gate(gated_agents_server, tls_certificates):
    llm = CloudflarePlayground(
        base_url=gated_agents_server.url,
        client_options={
            "transport": "impersonate",
            "verify": str(tls_certificates.ca_path),
            "session_cache": False,
        },
    )
    response = llm.chat([ChatMessage(role="user", content="from llama-index")])
    assert "last user: from llama-index" in (response.message.content or "")
    assert {s.verdict for s in gated_agents_server.seen} == {"browser"}


def test_without_curl_cffi_the_error_names_the_extra():
    script = (
        "import sys; sys.modules['curl_cffi'] = None\n"
        "from langchain_cloudflare_playground.client import PlaygroundClient\n"
        "PlaygroundClient('http://127.0.0.1:1')  # the default transport needs no extra\n"
        "try:\n"
        "    PlaygroundClient('http://127.0.0.1:1', transport='impersonate')\n"
        "except ModuleNotFoundError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert "needs the 'impersonate' extra" in result.stdout
    assert 'pip install "cloudflare-playground[impersonate]"' in result.stdout


async def test_retried_requests_at_once_each_reach_the_server(server):
    # A retried request's first response, closed, once stopped the transfer of whatever request
    # had taken its curl handle from the pool since: that one ended at once, "an empty reply",
    # without reaching the server. Every call here must get its own reply, after its retry.
    prompts = [f"at once {i}" for i in range(50)]
    for prompt in prompts[::5]:
        server.push_for(prompt, Fault(status=500))
    async with PlaygroundClient(
        server.url, wire_format="http", transport="impersonate", timeout=10
    ) as client:
        client.retry_policy = type(client.retry_policy)(max_retries=2, initial_delay=0.01)
        replies = await asyncio.gather(*(client.achat(prompt) for prompt in prompts))
    assert [reply.text.split(" |")[0] for reply in replies] == [f"Echo: {p}" for p in prompts]
    for prompt in prompts:
        outcomes = [record.outcome for record in server.streams if record.prompt == prompt]
        assert outcomes == (["refused", "finished"] if prompt in prompts[::5] else ["finished"])
