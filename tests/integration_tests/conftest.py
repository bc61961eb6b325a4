"""Integration tests run the real client against real servers on loopback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import pytest

from langchain_cloudflare_playground.client import PlaygroundClient
from tests.agents_worker import AgentsServer
from tests.helpers import SOAK_LINES, require_agents_server, running_tinyproxy
from tests.reference_server import ReferenceServer
from tests.serve_process import ServeProcess
from tests.tls_edge import TestCertificates, TlsEdge

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def _servers():
    servers = {name: ReferenceServer(name).start() for name in ("sse", "data-stream")}
    yield servers
    for server in servers.values():
        server.stop()


def _fresh(server: ReferenceServer) -> ReferenceServer:
    server.clear()
    return server


@pytest.fixture(scope="session")
def agents_server():
    """The real Agents SDK server in local workerd; fails in CI if it cannot run."""
    require_agents_server()
    with AgentsServer() as server:
        yield server


@pytest.fixture(params=["sse", "data-stream"])
def server(request, _servers) -> ReferenceServer:
    """The reference server, once per HTTP wire format, with no faults queued."""
    return _fresh(_servers[request.param])


@dataclass(frozen=True)
class WireFormatServer:
    """Where one wire format is served, and the client setting that forces it."""

    url: str
    wire_format: Literal["http", "agents"]


@pytest.fixture(params=["http-sse", "http-data-stream", "agents-websocket"])
def each_wire_format(request, _servers) -> WireFormatServer:
    """A server of each wire format the playground has spoken (HTTP ones with no faults queued)."""
    if request.param == "agents-websocket":
        return WireFormatServer(request.getfixturevalue("agents_server").url, "agents")
    return WireFormatServer(_fresh(_servers[request.param.removeprefix("http-")]).url, "http")


@pytest.fixture
def sse_server(_servers) -> ReferenceServer:
    return _fresh(_servers["sse"])


@pytest.fixture
def data_stream_server(_servers) -> ReferenceServer:
    return _fresh(_servers["data-stream"])


@pytest.fixture
async def client(server):
    """A client for ``server`` with a short timeout; closed after the test."""
    async with PlaygroundClient(server.url, timeout=5) as playground:
        yield playground


# -- a real proxy -------------------------------------------------------------------------


@pytest.fixture
def tinyproxy(tmp_path):
    """A tinyproxy on loopback: its URL, and its log (which names every URL it carried)."""
    with running_tinyproxy(tmp_path) as proxy:
        yield proxy


# -- behind the TLS test edge, which lets only a browser's handshake through ------------------


@pytest.fixture(scope="session")
def tls_certificates(tmp_path_factory) -> TestCertificates:
    """A CA and a server certificate for loopback, made for this run (``.ca_path`` to trust)."""
    return TestCertificates.create(tmp_path_factory.mktemp("tls-certificates"))


@pytest.fixture
def gated_agents_server(agents_server, tls_certificates) -> Iterator[TlsEdge]:
    """The real Agents server behind a TLS edge of this test's own (``.url``, ``.seen``)."""
    with TlsEdge(agents_server.port, tls_certificates) as edge:
        yield edge


@pytest.fixture
def gated_server(server, tls_certificates) -> Iterator[TlsEdge]:
    """The reference server (once per HTTP wire format) behind a TLS edge of this test's own."""
    with TlsEdge(server.port, tls_certificates) as edge:
        yield edge


# -- cf-playground serve, in front of the local servers -----------------------------------------

# No browser in a server the tests start: the refusals they provoke are answered, not solved.
SERVE_ENV = {"CF_PLAYGROUND_BROWSER": "0"}


@pytest.fixture(scope="session")
def served_http(_servers) -> Iterator[ServeProcess]:
    """``cf-playground serve`` in front of the data-stream reference server (clear it first)."""
    upstream = _servers["data-stream"]
    args = ("--base-url", upstream.url, "--wire-format", "http", "--timeout", "10")
    with ServeProcess(*args, env=SERVE_ENV) as served:
        yield served


@pytest.fixture
def upstream(_servers) -> ReferenceServer:
    """The reference server behind ``served_http``, with no faults queued."""
    return _fresh(_servers["data-stream"])


@pytest.fixture(scope="session")
def served_agents(agents_server) -> Iterator[ServeProcess]:
    """``cf-playground serve`` in front of the real Agents SDK server."""
    args = ("--base-url", agents_server.url, "--wire-format", "agents")
    with ServeProcess(*args, env=SERVE_ENV) as served:
        yield served


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The soak's one line: what each soak of the run saw."""
    lines = terminalreporter.config.stash.get(SOAK_LINES, [])
    if lines:
        terminalreporter.write_line(f"soak: {'; '.join(lines)}")
