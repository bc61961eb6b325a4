"""Every request goes through ``proxy=``: tested through a real proxy server (tinyproxy)."""

from __future__ import annotations

import pytest

from langchain_cloudflare_playground.client import PlaygroundClient, PlaygroundConnectionError
from tests.reference_server import free_port


async def test_chat_and_models_go_through_the_proxy(server, tinyproxy):
    proxy_url, log = tinyproxy
    async with PlaygroundClient(server.url, proxy=proxy_url) as client:
        reply = await client.achat("through the proxy")
        models = await client.alist_models()
    assert reply.text.startswith("Echo: through the proxy")
    assert any(m.alias == "qwq-32b" for m in models)
    for request in server.requests:
        assert "tinyproxy" in request.headers.get("Via", "")  # the proxy added its mark
    assert f"{server.url}/api/inference" in log.read_text()


def test_sync_calls_use_the_proxy_too(server, tinyproxy):
    proxy_url, _ = tinyproxy
    with PlaygroundClient(server.url, proxy=proxy_url) as client:
        client.chat("sync")
    assert "tinyproxy" in server.inference_requests[-1].headers.get("Via", "")


async def test_a_dead_proxy_is_a_connection_error_that_names_the_proxy(server):
    dead = f"http://127.0.0.1:{free_port()}"
    async with PlaygroundClient(server.url, proxy=dead, max_retries=0) as client:
        with pytest.raises(PlaygroundConnectionError, match="proxy"):
            await client.achat("x")
    assert server.inference_requests == []


def test_proxy_password_stays_out_of_the_repr():
    client = PlaygroundClient("http://x", proxy="http://user:hunter2@127.0.0.1:3128")
    assert "hunter2" not in repr(client)
    assert "127.0.0.1:3128" in repr(client)
