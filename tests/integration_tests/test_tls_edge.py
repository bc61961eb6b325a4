"""The TLS test edge (``tests/tls_edge.py``): real clients, real backends, real handshakes.

Every client here talks to a ``TlsEdge`` of its own, in front of the reference server or the
real Agents server. The ClientHello tests judge handshakes recorded in this module from real
clients (aiohttp and Python's ``ssl`` on OpenSSL, curl_cffi plain and impersonating Chrome,
headless Chromium), never stored bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from typing import TYPE_CHECKING, Self

import aiohttp
import curl_cffi
import pytest
from curl_cffi import requests as curl_requests
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_cloudflare_playground.client.browser.chromium import chromium_environment
from tests.helpers import chromium_processes, require_tool
from tests.reference_server import INTERSTITIAL, Fault, ReferenceServer
from tests.tls_edge import (
    ClientHello,
    ClientHelloError,
    ClientHelloReader,
    TestCertificates,
    TlsEdge,
    is_grease,
    judge,
    parse_client_hello,
)

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.network_server

ALPN, ALPS, ALPS_NEW = 16, 17513, 17613
CHROMIUM_QUIET = (
    "--headless=new",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-crash-reporter",
    "--disable-breakpad",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-gpu",
    "--password-store=basic",
    "--mute-audio",
)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return TestCertificates.create(tmp_path_factory.mktemp("tls-edge-certs"))


@pytest.fixture
def edge(data_stream_server, certificates):
    """An edge of this test's own, in front of the reference server."""
    with TlsEdge(data_stream_server.port, certificates) as front:
        yield front


@pytest.fixture
def agents_edge(agents_server, certificates):
    """An edge of this test's own, in front of the real Agents server."""
    with TlsEdge(agents_server.port, certificates) as front:
        yield front


def _room_path() -> str:
    return f"/agents/playground/tls-{uuid.uuid4().hex[:8]}?_pk={uuid.uuid4()}"


@contextlib.asynccontextmanager
async def https_session(certificates: TestCertificates):
    """An aiohttp session trusting the test CA, whose sockets are all closed on leaving.

    A TLS connection that a response closes (``Connection: close``) shuts TLS down in the
    background, and aiohttp does not wait for that; leaving waits (bounded) until every socket
    this session made is closed, so none outlives the test's event loop.
    """
    sockets: list[socket.socket] = []

    def make_socket(addr_info) -> socket.socket:
        family, kind, proto, _, _ = addr_info
        made = socket.socket(family=family, type=kind, proto=proto)
        sockets.append(made)
        return made

    connector = aiohttp.TCPConnector(ssl=certificates.client_context(), socket_factory=make_socket)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session
    deadline = time.monotonic() + 10
    while any(made.fileno() != -1 for made in sockets) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert all(made.fileno() == -1 for made in sockets), "a TLS socket stayed open for 10 s"


# -- Chromium, driven over the DevTools protocol -------------------------------------------


class HeadlessChromium:
    """Debian's Chromium, headless, trusting the test certificate by its public key hash.

    ``--ignore-certificate-errors-spki-list`` takes the base64 SHA-256 of the server
    certificate's SubjectPublicKeyInfo and works only with ``--user-data-dir``; the profile is
    a folder of the test's own, and holds the browser's home and temporary folder too (the
    package's ``chromium_environment``). The browser runs in a process group of its own, ended
    on exit.
    """

    def __init__(self, executable: str, profile: Path, certificates: TestCertificates) -> None:
        self.executable = executable
        self.profile = profile
        self.certificates = certificates
        self._process: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None
        self._page: aiohttp.ClientWebSocketResponse | None = None
        self._ids = 0
        self._before: set[int] = set()

    async def __aenter__(self) -> Self:
        self._before = chromium_processes()
        self.profile.mkdir(parents=True, exist_ok=True)
        self._process = await asyncio.create_subprocess_exec(
            self.executable,
            f"--user-data-dir={self.profile}",
            f"--ignore-certificate-errors-spki-list={self.certificates.spki_sha256}",
            "--remote-debugging-host=127.0.0.1",
            "--remote-debugging-port=0",
            *CHROMIUM_QUIET,
            *(["--no-sandbox"] if os.geteuid() == 0 else []),
            "about:blank",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env=chromium_environment(str(self.profile)),  # the user's home stays untouched
            cwd=self.profile,
        )
        try:
            port = await self._debugging_port()
            self._session = aiohttp.ClientSession()
            deadline = time.monotonic() + 30
            while True:
                async with self._session.get(f"http://127.0.0.1:{port}/json/list") as response:
                    pages = [t for t in await response.json() if t["type"] == "page"]
                if pages or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert pages, "Chromium opened no page"
            self._page = await asyncio.wait_for(
                self._session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0), 10
            )
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def _debugging_port(self) -> int:
        assert self._process is not None
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self._process.returncode is None, "Chromium exited at start-up"
            with contextlib.suppress(OSError, ValueError, IndexError):
                return int(port_file.read_text().splitlines()[0])
            await asyncio.sleep(0.05)
        raise AssertionError("Chromium did not open its DevTools port within 30 s")

    async def call(self, method: str, **params):
        assert self._page is not None
        self._ids += 1
        await self._page.send_json({"id": self._ids, "method": method, "params": params})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            message = await self._page.receive(timeout=30)
            assert message.type is aiohttp.WSMsgType.TEXT, message
            reply = json.loads(message.data)
            if reply.get("id") == self._ids:
                assert "error" not in reply, reply
                return reply["result"]
        raise AssertionError(f"no reply to {method} within 30 s")

    async def evaluate(self, expression: str):
        result = await self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    async def wait_for_title(self, title: str, seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        seen = None
        while time.monotonic() < deadline:
            seen = await self.evaluate("document.title")
            if seen == title:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"the page's title stayed {seen!r}, never {title!r}")

    async def open_websocket(self, url: str) -> str:
        """Open a WebSocket from the page; the first message, or how it failed."""
        return await self.evaluate(
            f"""new Promise((resolve) => {{
                const ws = new WebSocket({json.dumps(url)});
                const timer = setTimeout(() => resolve("timeout"), 10000);
                ws.onmessage = (event) => {{
                    clearTimeout(timer); ws.close(1000); resolve(String(event.data));
                }};
                ws.onerror = () => {{ clearTimeout(timer); resolve("error"); }};
            }})"""
        )

    async def __aexit__(self, *_: object) -> None:
        if self._page is not None:
            await self._page.close()
        if self._session is not None:
            await self._session.close()
        process = self._process
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await asyncio.wait_for(process.wait(), 10)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # children left in the group
        # Helpers that left the group (crash handlers) and appeared during this browser's run.
        deadline = time.monotonic() + 10
        while (left := chromium_processes() - self._before) and time.monotonic() < deadline:
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            await asyncio.sleep(0.1)
        assert chromium_processes() - self._before == set()


@pytest.fixture
def chromium():
    return require_tool("chromium")


# -- clients refused ----------------------------------------------------------------------


async def test_aiohttp_api_request_gets_the_challenge_page(edge, data_stream_server, certificates):
    async with (
        https_session(certificates) as session,
        session.post(
            f"{edge.url}/api/inference",
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        ) as response,
    ):
        assert response.status == 403
        assert response.headers["cf-mitigated"] == "challenge"
        assert await response.text() == INTERSTITIAL
    assert data_stream_server.requests == []  # the backend never saw it
    assert [seen.verdict for seen in edge.seen] == ["not-browser"]
    assert edge.seen[0].requests[0].startswith(b"POST /api/inference HTTP/1.1")


async def test_aiohttp_websocket_upgrade_gets_403(agents_edge, certificates):
    async with https_session(certificates) as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await asyncio.wait_for(session.ws_connect(agents_edge.ws_url + _room_path()), 20)
    assert refused.value.status == 403
    assert [seen.verdict for seen in agents_edge.seen] == ["not-browser"]


def test_curl_cffi_without_impersonation_is_refused(edge, data_stream_server, certificates):
    with curl_requests.Session(verify=str(certificates.ca_path), timeout=10) as session:
        response = session.get(f"{edge.url}/api/models")
        assert response.status_code == 403
        assert response.text == INTERSTITIAL
        with pytest.raises(curl_cffi.CurlError, match="403"):
            session.ws_connect(f"{edge.ws_url}{_room_path()}")
    assert data_stream_server.requests == []
    assert {seen.verdict for seen in edge.seen} == {"not-browser"}


async def test_an_edge_that_does_not_judge_lets_aiohttp_through(
    data_stream_server, agents_server, certificates
):
    with (
        TlsEdge(data_stream_server.port, certificates, judging=False) as edge,
        TlsEdge(agents_server.port, certificates, judging=False) as agents_edge,
    ):
        async with https_session(certificates) as session:
            async with session.get(f"{edge.url}/api/models") as response:
                assert response.status == 200
                assert "cf-mitigated" not in response.headers
            socket_ = await asyncio.wait_for(
                session.ws_connect(agents_edge.ws_url + _room_path()), 20
            )
            await socket_.receive(timeout=20)  # the Agents server's greeting, relayed
            await socket_.close()
    assert data_stream_server.requests != []  # the backend answered it
    assert [seen.verdict for seen in edge.seen] == ["not-browser"]  # judged all the same
    assert [seen.verdict for seen in agents_edge.seen] == ["not-browser"]


# -- clients let through ------------------------------------------------------------------


def test_curl_cffi_impersonating_chrome_is_let_through(edge, data_stream_server, certificates):
    with curl_requests.Session(
        impersonate="chrome", verify=str(certificates.ca_path), timeout=10
    ) as session:
        models = session.get(f"{edge.url}/api/models")
        assert models.status_code == 200
        assert models.json()["models"][0]["name"].startswith("@cf/")
        reply = session.post(
            f"{edge.url}/api/inference",
            json={"model": "m", "messages": [{"role": "user", "content": "through the edge"}]},
        )
        assert reply.status_code == 200
        assert reply.text.startswith('f:{"messageId"')
        assert '0:"through "\n0:"the "\n0:"edge "' in reply.text  # the echo, streamed
        assert reply.text.splitlines()[-1].startswith('d:{"finishReason": "stop"')
    assert [r.path for r in data_stream_server.requests] == ["/api/models", "/api/inference"]
    assert data_stream_server.requests[1].json["messages"][0]["content"] == "through the edge"
    assert edge.seen
    assert {seen.verdict for seen in edge.seen} == {"browser"}


def test_curl_cffi_impersonating_chrome_opens_a_websocket_to_the_agents_server(
    agents_edge, certificates
):
    with curl_requests.Session(
        impersonate="chrome", verify=str(certificates.ca_path), timeout=10
    ) as session:
        ws = session.ws_connect(f"{agents_edge.ws_url}{_room_path()}")
        try:
            frame, _ = ws.recv()
            assert json.loads(frame)["type"] == "cf_agent_identity"
        finally:
            ws.close(1000)
    assert {seen.verdict for seen in agents_edge.seen} == {"browser"}


async def test_chromium_loads_the_page_and_opens_websockets(
    chromium, tmp_path, edge, data_stream_server, agents_edge
):
    """Chromium's page clears the reference server's interstitial; both WebSockets open."""
    data_stream_server.push(Fault(websocket=True), route="agents")
    async with HeadlessChromium(chromium, tmp_path / "profile", edge.certificates) as browser:
        await browser.call("Page.navigate", url=f"{edge.url}/")
        await browser.wait_for_title("Workers AI LLM Playground")
        assert "Playground" in await browser.evaluate("document.body.innerHTML")
        # The reference server's stand-in WebSocket, from the page's own origin...
        first = await browser.open_websocket(f"{edge.ws_url}/agents/playground/page")
        assert json.loads(first)["type"] == "cf_agent_identity"
        # ...and the real Agents server's, through an edge of its own.
        second = await browser.open_websocket(f"{agents_edge.ws_url}{_room_path()}")
        assert json.loads(second)["type"] == "cf_agent_identity"
    assert [r.path for r in data_stream_server.requests][:2] == ["/", "/"]  # interstitial, page
    assert "/agents/playground/page" in [r.path for r in data_stream_server.requests]
    assert edge.seen
    assert {seen.verdict for seen in edge.seen} == {"browser"}
    assert {seen.verdict for seen in agents_edge.seen} == {"browser"}


# -- garbage and shutdown -----------------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",  # plain HTTP to the TLS port
        b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00",  # a ServerHello, not a ClientHello
        b"\x16\x03\x01\xff\xff",  # a record longer than TLS allows
        b"\x16\x03\x01\x00\x30\x01\x00\x00\x2c\x03\x03" + b"\x00" * 43,  # fields run short
    ],
    ids=["http", "server-hello", "long-record", "short-fields"],
)
async def test_garbage_gets_the_connection_closed(edge, certificates, garbage):
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", edge.port), 5)
    try:
        writer.write(garbage)
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed, with no answer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    assert edge.seen[0].verdict is None
    assert edge.seen[0].error
    # The edge goes on judging the next client.
    async with (
        https_session(certificates) as session,
        session.get(f"{edge.url}/api/models") as response,
    ):
        assert response.status == 403


async def test_a_client_that_leaves_mid_hello_is_forgotten(edge, certificates):
    hello = await _record_openssl_hello(edge, certificates)
    reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
    writer.write(hello[:100])
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    deadline = time.monotonic() + 10
    while edge.seen[-1].error is None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert edge.seen[-1].verdict is None
    assert "left" in str(edge.seen[-1].error)
    assert await asyncio.wait_for(reader.read(), 5) == b""


async def test_stop_ends_a_relayed_websocket_in_bounded_time(data_stream_server, certificates):
    data_stream_server.push(Fault(websocket=True), route="agents")
    front = TlsEdge(data_stream_server.port, certificates).start()
    try:
        with curl_requests.Session(
            impersonate="chrome", verify=str(certificates.ca_path), timeout=10
        ) as session:
            ws = session.ws_connect(f"{front.ws_url}/agents/playground/held")
            try:
                assert json.loads(ws.recv()[0])["type"] == "cf_agent_identity"
                started = time.monotonic()
                front.stop()
                assert time.monotonic() - started < 5
                with pytest.raises(curl_cffi.CurlError):
                    for _ in range(10):  # the rest of the greeting may be buffered
                        ws.recv()
            finally:
                with contextlib.suppress(Exception):
                    ws.close(1000)
    finally:
        front.stop()


# -- the ClientHello parser, on handshakes recorded here -----------------------------------


async def _record_openssl_hello(edge: TlsEdge, certificates: TestCertificates) -> bytes:
    async with (
        https_session(certificates) as session,
        session.get(f"{edge.url}/") as response,
    ):
        await response.read()
    return edge.seen[-1].raw


def _record_stdlib_hello(edge: TlsEdge, certificates: TestCertificates) -> bytes:
    context = certificates.client_context()
    with (
        socket.create_connection(("127.0.0.1", edge.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        while tls.recv(65536):
            pass
    return edge.seen[-1].raw


def _record_curl_hello(edge: TlsEdge, certificates: TestCertificates, **options) -> bytes:
    with curl_requests.Session(verify=str(certificates.ca_path), timeout=10, **options) as session:
        session.get(f"{edge.url}/")
    return edge.seen[-1].raw


@pytest.fixture(scope="module")
def recorded_hellos(tmp_path_factory, certificates):
    """Real ClientHellos, recorded by edges on loopback from the clients that made them.

    ``chromium-page``: Chromium's page load (it offers HTTP/2, so it sends ALPS);
    ``chromium-websocket``: a WebSocket opened from that page (HTTP/1.1 only, no ALPS).
    """
    executable = require_tool("chromium")
    hellos: dict[str, bytes] = {}
    with ReferenceServer() as backend:
        backend.push(Fault(websocket=True), route="agents")
        with TlsEdge(backend.port, certificates) as edge:
            hellos["aiohttp"] = asyncio.run(_record_openssl_hello(edge, certificates))
            hellos["python-ssl"] = _record_stdlib_hello(edge, certificates)
            hellos["curl-cffi-plain"] = _record_curl_hello(edge, certificates)
            hellos["curl-cffi-chrome"] = _record_curl_hello(
                edge, certificates, impersonate="chrome"
            )
        with (
            TlsEdge(backend.port, certificates) as page_edge,
            TlsEdge(backend.port, certificates) as socket_edge,
        ):

            async def browse() -> None:
                profile = tmp_path_factory.mktemp("chromium-profile")
                async with HeadlessChromium(executable, profile, certificates) as browser:
                    await browser.call("Page.navigate", url=f"{page_edge.url}/")
                    await browser.wait_for_title("Workers AI LLM Playground")
                    reply = await browser.open_websocket(
                        f"{socket_edge.ws_url}/agents/playground/x"
                    )
                    assert "cf_agent_identity" in reply

            asyncio.run(browse())
            hellos["chromium-page"] = page_edge.seen[0].raw
            hellos["chromium-websocket"] = socket_edge.seen[0].raw
            assert len(socket_edge.seen) == 1
    return hellos


EXPECTED = {
    "aiohttp": "not-browser",
    "python-ssl": "not-browser",
    "curl-cffi-plain": "not-browser",
    "curl-cffi-chrome": "browser",
    "chromium-page": "browser",
    "chromium-websocket": "browser",
}


@pytest.mark.parametrize("client", EXPECTED)
def test_verdict_of_a_real_client_hello(recorded_hellos, client):
    hello = parse_client_hello(recorded_hellos[client])
    assert judge(hello) == EXPECTED[client]
    assert len(hello.random) == 32
    assert hello.legacy_version == 0x0303
    assert hello.compression_methods == b"\x00"
    if EXPECTED[client] == "browser":
        assert hello.cipher_suites[0] == hello.grease_cipher_suites[0]  # BoringSSL puts it first
        assert is_grease(hello.extension_types[0])
    else:
        assert hello.grease_cipher_suites == ()
        assert hello.grease_extensions == ()


def test_a_chromium_websocket_is_a_browser_without_alps(recorded_hellos):
    page = parse_client_hello(recorded_hellos["chromium-page"])
    websocket = parse_client_hello(recorded_hellos["chromium-websocket"])
    assert b"h2" in dict(page.extensions)[ALPN]
    assert {ALPS, ALPS_NEW} & set(page.extension_types)
    assert dict(websocket.extensions)[ALPN] == b"\x00\x09\x08http/1.1"
    assert not {ALPS, ALPS_NEW} & set(websocket.extension_types)
    assert judge(websocket) == "browser"


@pytest.mark.parametrize("client", EXPECTED)
def test_a_hello_split_at_every_byte_boundary_parses_the_same(recorded_hellos, client):
    raw = recorded_hellos[client]
    whole = parse_client_hello(raw)
    for cut in range(1, len(raw)):
        reader = ClientHelloReader()
        assert reader.feed(raw[:cut]) is None
        assert reader.feed(raw[cut:]) == whole
    byte_by_byte = ClientHelloReader()
    results = [byte_by_byte.feed(raw[i : i + 1]) for i in range(len(raw))]
    assert results[-1] == whole
    assert all(result is None for result in results[:-1])


@pytest.mark.parametrize("client", ["aiohttp", "chromium-page"])
def test_a_hello_spread_over_many_tls_records_parses_the_same(recorded_hellos, client):
    raw = recorded_hellos[client]
    handshake = raw[5 : 5 + int.from_bytes(raw[3:5], "big")]
    records = b"".join(
        raw[:3] + len(piece).to_bytes(2, "big") + piece
        for piece in (handshake[i : i + 97] for i in range(0, len(handshake), 97))
    )
    assert parse_client_hello(records) == parse_client_hello(raw)


def test_every_one_byte_corruption_is_parsed_or_refused(recorded_hellos):
    raw = recorded_hellos["chromium-page"]
    for index in range(len(raw)):
        for value in (0x00, 0xFF, raw[index] ^ 0x01):
            corrupt = raw[:index] + bytes([value]) + raw[index + 1 :]
            with contextlib.suppress(ClientHelloError):  # anything else fails the test
                ClientHelloReader().feed(corrupt)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(1, 50), max_size=10))
def test_random_bytes_never_raise_anything_but_client_hello_error(data, cuts):
    reader = ClientHelloReader()
    pieces, start = [], 0
    for size in cuts:
        pieces.append(data[start : start + size])
        start += size
    pieces.append(data[start:])
    try:
        for piece in pieces:
            result = reader.feed(piece)
            assert result is None or isinstance(result, ClientHello)
    except ClientHelloError:
        pass


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x17\x03\x03\x00\x10" + b"\x00" * 16,  # application data first
        b"\x16\x02\x00\x00\x04\x01\x00\x00\x00",  # SSL 2 record version
        b"\x16\x03\x01\x00\x00",  # an empty record
        b"\x16\x03\x01\x00\x04\x01\xff\xff\xff",  # a 16 MB ClientHello announced
    ],
)
def test_garbage_is_refused_with_client_hello_error(garbage):
    with pytest.raises(ClientHelloError):
        parse_client_hello(garbage)


def test_an_openssl_style_hello_without_grease_is_not_a_browser():
    """A hand-built hello: GREASE in the extensions alone, or in the suites alone, is not enough."""

    def build(suites: list[int], extensions: list[int]) -> bytes:
        body = (
            b"\x03\x03"
            + b"\x11" * 32
            + b"\x00"
            + (2 * len(suites)).to_bytes(2, "big")
            + b"".join(s.to_bytes(2, "big") for s in suites)
            + b"\x01\x00"
        )
        block = b"".join(kind.to_bytes(2, "big") + b"\x00\x00" for kind in extensions)
        body += len(block).to_bytes(2, "big") + block
        handshake = b"\x01" + len(body).to_bytes(3, "big") + body
        return b"\x16\x03\x01" + len(handshake).to_bytes(2, "big") + handshake

    assert judge(parse_client_hello(build([0x1301], [0x000A]))) == "not-browser"
    assert judge(parse_client_hello(build([0x1301], [0x2A2A, 0x000A]))) == "not-browser"
    assert judge(parse_client_hello(build([0xFAFA, 0x1301], [0x000A]))) == "not-browser"
    assert judge(parse_client_hello(build([0xFAFA, 0x1301], [0x3A3A, 0x000A]))) == "browser"
    assert not is_grease(0x0A1A)
    assert not is_grease(0x1B1B)
    with pytest.raises(ClientHelloError, match="twice"):
        parse_client_hello(build([0x1301], [0x000A, 0x000A]))
