"""LangChain's own contract, live: the standard integration suite against the real Agents SDK
server (Agents frames over a WebSocket, as on the live site) in local workerd, with its scripted
model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from langchain_tests.conftest import base_vcr_config
from pytest_socket import disable_socket, enable_socket

from langchain_cloudflare_playground.testing import vcr_config as playground_vcr_config
from tests.standard_contract import PlaygroundContract

if TYPE_CHECKING:
    from collections.abc import Iterator

# Where tests.record_cassettes runs the reference server (the data stream) for these cassettes.
RECORDED_URL = "http://127.0.0.1:8787"


class TestChatCloudflarePlaygroundLive(PlaygroundContract):
    base_url: str = ""

    @pytest.fixture(autouse=True)
    def _agents_server(self, agents_server) -> None:
        type(self).base_url = agents_server.url

    @property
    def chat_model_params(self) -> dict:
        return {"model": "llama-3.3-70b", "base_url": self.base_url, "wire_format": "agents"}

    @property
    def returns_usage_metadata(self) -> bool:
        return False  # the Agents frames carry no token counts (docs/wire-formats.md)


class TestChatCloudflarePlaygroundImpersonatingBehindTheTlsGate(PlaygroundContract):
    """The same suite through the Chrome-impersonating transport, over the WebSocket, behind the
    TLS test edge that refuses any handshake that is not Chrome's (aiohttp's included)."""

    base_url: str = ""
    ca_path: str = ""

    @pytest.fixture(autouse=True)
    def _gated_agents_server(self, gated_agents_server, tls_certificates) -> Iterator[None]:
        type(self).base_url = gated_agents_server.url
        type(self).ca_path = str(tls_certificates.ca_path)
        yield
        # (A test that skips itself sends nothing; the others reach the server only through it.)
        refused = [seen for seen in gated_agents_server.seen if seen.verdict != "browser"]
        assert refused == [], "a handshake that is not Chrome's reached the edge"

    @property
    def chat_model_params(self) -> dict:
        return {
            "model": "llama-3.3-70b",
            "base_url": self.base_url,
            "wire_format": "agents",
            "client_options": {"transport": "impersonate", "verify": self.ca_path},
        }

    @property
    def returns_usage_metadata(self) -> bool:
        return False  # the Agents frames carry no token counts (docs/wire-formats.md)


@pytest.fixture
def vcr_config() -> dict:
    # LangChain's base settings, with the package's own filters (no cookies, no Set-Cookie);
    # host and port are not matched, so the cassettes replay whatever port they were made on.
    return {
        **base_vcr_config(),
        **playground_vcr_config(),
        "match_on": ["method", "path", "body"],
        "allow_playback_repeats": True,
        "cassette_library_dir": str(Path(__file__).parents[1] / "cassettes" / "standard"),
    }


@pytest.mark.vcr
class TestChatCloudflarePlaygroundCassettes(PlaygroundContract):
    """The same suite offline, from cassettes of the AI SDK data stream recorded from the reference
    server (``python -m tests.record_cassettes``); the network is off unless re-recording."""

    @pytest.fixture(autouse=True)
    def _network_off(self, record_mode):
        if record_mode != "none":
            yield
            return
        disable_socket(allow_unix_socket=True)
        yield
        enable_socket()

    @property
    def chat_model_params(self) -> dict:
        return {"model": "llama-3.3-70b", "base_url": RECORDED_URL, "wire_format": "http"}

    @property
    def returns_usage_metadata(self) -> bool:
        return True  # the HTTP wire formats report token counts

    @property
    def enable_vcr_tests(self) -> bool:
        return True
