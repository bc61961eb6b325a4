"""A browser page trusts what the client's ``verify`` option trusts.

Real headless Chromium, launched by the client, against the real Agents server and the
reference server behind a TLS edge of each test's own (``tests/tls_edge.py``): the edge lets
only a browser's handshake through, and its certificate comes from a CA made for this run, which
no browser trusts unless told. The edge presents the chain (its certificate, then the CA), as
real servers and re-signing proxies that send their CA do: Chromium matches a listed CA key only
among the certificates a server presents (the last test shows it).
"""

from __future__ import annotations

import time

import pytest

from langchain_cloudflare_playground.client import (
    CertificateError,
    PlaygroundClient,
    TextDelta,
)
from langchain_cloudflare_playground.client.browser import BrowserSessionSource
from tests.helpers import chromium_processes, echo_fields, our_profiles, require_tool
from tests.tls_edge import TestCertificates, TlsEdge

pytestmark = pytest.mark.network_server

HISTORY = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Name a colour"},
]
UNTRUSTED = (
    r"certificate is not trusted \(net::ERR_CERT_AUTHORITY_INVALID in the browser page\);"
    r".*verify='/path/to/ca\.pem'.*SSL_CERT_FILE"
)


@pytest.fixture(scope="module", autouse=True)
def no_chromium_outlives_the_tests():
    require_tool("chromium")
    before = chromium_processes()
    yield
    deadline = time.monotonic() + 5
    while chromium_processes() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert chromium_processes() - before == set()
    assert our_profiles() == []


@pytest.fixture(autouse=True)
def no_chromium_outlives_a_test(monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)  # each test says what it trusts
    before = chromium_processes()
    yield
    assert chromium_processes() - before == set()  # checked at once: stop() waits for them
    assert our_profiles() == []


def relay_client(edge: TlsEdge, **options) -> PlaygroundClient:
    return PlaygroundClient(edge.url, transport="browser", wire_format="agents", **options)


async def chat_through(client: PlaygroundClient) -> dict[str, str]:
    events = [e async for e in client.astream_chat(HISTORY, model="qwq-32b")]
    return echo_fields("".join(e.text for e in events if isinstance(e, TextDelta)))


def verdicts(edge: TlsEdge) -> set[str | None]:
    return {seen.verdict for seen in edge.seen}


async def test_the_relay_streams_a_chat_through_the_gate_trusting_the_ca(
    gated_agents_server, tls_certificates
):
    async with relay_client(gated_agents_server, verify=tls_certificates.ca_path) as client:
        fields = await chat_through(client)
    assert fields["model"] == "@cf/qwen/qwq-32b"
    assert fields["system (state)"] == "Be brief."
    assert verdicts(gated_agents_server) == {"browser"}  # the page and its WebSocket


async def test_without_verify_the_page_refuses_the_certificate_with_a_clear_error(
    gated_agents_server,
):
    started = time.monotonic()
    async with relay_client(gated_agents_server) as client:
        with pytest.raises(CertificateError, match=UNTRUSTED):
            await client.achat("x")
    assert time.monotonic() - started < 15  # at once, not at the relay's 60 s deadline
    assert verdicts(gated_agents_server) == {"browser"}  # a browser, refusing the certificate


async def test_ssl_cert_file_naming_the_ca_is_trusted_as_verify_path_is(
    gated_agents_server, tls_certificates, monkeypatch
):
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_certificates.ca_path))
    async with relay_client(gated_agents_server) as client:  # verify=True: $SSL_CERT_FILE
        fields = await chat_through(client)
    assert fields["model"] == "@cf/qwen/qwq-32b"
    assert verdicts(gated_agents_server) == {"browser"}


async def test_verify_false_lets_the_page_accept_any_certificate(gated_agents_server):
    async with relay_client(gated_agents_server, verify=False) as client:
        fields = await chat_through(client)
    assert fields["model"] == "@cf/qwen/qwq-32b"


async def test_the_session_source_collects_cookies_through_the_gate_with_verify(
    gated_server, tls_certificates
):
    source = BrowserSessionSource(deadline=20, verify=str(tls_certificates.ca_path))
    session = await source.acquire(gated_server.url)
    assert session.source == "browser"
    assert session.cookies["cf_clearance"] == "cleared-by-browser"  # HttpOnly, by header
    assert session.cookies["pg_js"] == "set-by-script"  # by the page's script
    assert verdicts(gated_server) == {"browser"}
    with pytest.raises(CertificateError, match=UNTRUSTED):
        await BrowserSessionSource(deadline=20).acquire(gated_server.url)


async def test_the_clients_own_session_source_trusts_what_verify_trusts(
    gated_server, tls_certificates
):
    async with PlaygroundClient(
        gated_server.url,
        verify=tls_certificates.ca_path,
        browser=True,  # the suite sets CF_PLAYGROUND_BROWSER=0 for every other test
        session_cache=False,
    ) as client:
        session = await client.sessions.get()
    assert session.source == "browser"
    assert session.cookies["cf_clearance"] == "cleared-by-browser"


async def test_a_ca_the_server_does_not_present_is_not_found_by_chromium(
    data_stream_server, tls_certificates, tmp_path
):
    leaf = tls_certificates.cert_path.read_text().split("-----END CERTIFICATE-----")[0]
    leaf_only = tmp_path / "leaf-only.pem"
    leaf_only.write_text(leaf + "-----END CERTIFICATE-----\n")
    certificates = TestCertificates(
        tls_certificates.ca_path, leaf_only, tls_certificates.key_path, tls_certificates.spki_sha256
    )
    source = BrowserSessionSource(deadline=20, verify=str(tls_certificates.ca_path))
    with TlsEdge(data_stream_server.port, certificates) as edge:
        with pytest.raises(CertificateError, match=UNTRUSTED):
            await source.acquire(edge.url)
        assert verdicts(edge) == {"browser"}
    assert data_stream_server.requests == []
