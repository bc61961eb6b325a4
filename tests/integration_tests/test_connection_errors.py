"""A connection that cannot be made says where it was going and why, in the client's words.

Against a real closed port on loopback (bound, its number taken, closed): not aiohttp's
"Cannot connect to host ... ssl:default [...]", which names an SSL setting for a plain http URL.
"""

from __future__ import annotations

import pytest

from langchain_cloudflare_playground.client import PlaygroundClient, PlaygroundConnectionError
from tests.reference_server import free_port


@pytest.mark.parametrize("wire_format", ["http", "agents"])  # a POST, and a WebSocket upgrade
async def test_a_closed_port_is_named_with_the_reason(wire_format):
    port = free_port()
    async with PlaygroundClient(
        f"http://127.0.0.1:{port}", wire_format=wire_format, max_retries=0, timeout=5
    ) as client:
        with pytest.raises(PlaygroundConnectionError) as caught:
            await client.achat("hi")
    assert str(caught.value) == (
        f"cannot reach the playground at http://127.0.0.1:{port}: connection refused"
    )


async def test_an_https_url_keeps_its_scheme_and_port():
    port = free_port()
    async with PlaygroundClient(f"https://127.0.0.1:{port}", max_retries=0, timeout=5) as client:
        with pytest.raises(PlaygroundConnectionError) as caught:
            await client.achat("hi")
    assert str(caught.value) == (
        f"cannot reach the playground at https://127.0.0.1:{port}: connection refused"
    )


async def test_a_name_that_does_not_resolve_says_so():
    async with PlaygroundClient("http://no-such-host.invalid", max_retries=0, timeout=5) as client:
        with pytest.raises(PlaygroundConnectionError) as caught:
            await client.achat("hi")
    message = str(caught.value)
    assert message.startswith(
        "cannot reach the playground at http://no-such-host.invalid:80:"
        " no-such-host.invalid does not resolve ("
    )
    assert "ssl:" not in message


async def test_a_closed_proxy_port_is_named_without_its_password():
    port = free_port()
    proxy = f"http://someone:pr0xy-PASSWORD@127.0.0.1:{port}"
    async with PlaygroundClient(
        "http://127.0.0.1:9", proxy=proxy, wire_format="http", max_retries=0, timeout=5
    ) as client:
        with pytest.raises(PlaygroundConnectionError) as caught:
            await client.achat("hi")
    assert str(caught.value) == (
        f"cannot connect to the proxy http://***@127.0.0.1:{port}: connection refused"
    )
