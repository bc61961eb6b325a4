"""LangChain's own contract, live: the standard integration suite against the real Agents SDK
server (Agents frames over a WebSocket, as on the live site) in local workerd, with its scripted
model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from langchain_tests.conftest import base_vcr_config
from pytest_socket import disable_socket, enable_socket

from langchain_cloudflare_playground.testing import vcr_config as playground_vcr_config
from tests.sample_images import ServedImages, png
from tests.standard_contract import PlaygroundContract

if TYPE_CHECKING:
    from collections.abc import Iterator

# Where tests.record_cassettes runs the reference server (the data stream) for these cassettes.
RECORDED_URL = "http://127.0.0.1:8787"

# The image LangChain's standard image tests download (langchain-tests 1.1.9, test_image_inputs):
# the test itself fetches it with httpx, and with supports_image_urls the model is given its URL,
# which the client fetches. Offline, both get a PNG of ours instead (the model is scripted: what
# counts is that the bytes travel, which tests/integration_tests/test_langchain_images.py checks).
LANGCHAIN_IMAGE_URL = (
    "https://raw.githubusercontent.com/langchain-ai/docs/4d11d08b6b0e210bd456943f7a22febbd168b543"
    "/src/images/agentic-rag-output.png"
)
STAND_IN_IMAGE = png(48, 32, seed=7)


class TestChatCloudflarePlaygroundLive(PlaygroundContract):
    """Against the local Agents server, with a vision model, so the image tests run too."""

    base_url: str = ""
    served = ServedImages({LANGCHAIN_IMAGE_URL: STAND_IN_IMAGE})

    @pytest.fixture(autouse=True)
    def _agents_server(self, agents_server) -> None:
        type(self).base_url = agents_server.url

    @pytest.fixture(autouse=True)
    def _offline_image(self, monkeypatch) -> None:
        real_get = httpx.get

        def get(url: object, *args: object, **kwargs: object) -> httpx.Response:
            if str(url) == LANGCHAIN_IMAGE_URL:
                return httpx.Response(
                    200, content=STAND_IN_IMAGE, request=httpx.Request("GET", url)
                )
            return real_get(url, *args, **kwargs)

        monkeypatch.setattr(httpx, "get", get)

    @property
    def chat_model_params(self) -> dict:
        return {
            # A vision model; its tool format is Llama 4's, which the scripted model plays too.
            "model": "llama-4-scout",
            "base_url": self.base_url,
            "wire_format": "agents",
            # aiohttp, but for the one image above, which it answers itself (offline).
            "client_options": {"transport": self.served},
        }

    @property
    def returns_usage_metadata(self) -> bool:
        return False  # the Agents frames carry no token counts (docs/wire-formats.md)

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True  # fetched by the client and sent as data

    @property
    def supports_image_tool_message(self) -> bool:
        # Tool results reach the model as text in a user turn (prompt-based tool calling), and
        # the room's Workers AI provider keeps only the text of a tool result's content anyway.
        return False


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

    # Images stay off here: the one image LangChain's image tests name is on the internet, and
    # this class's transport is the impersonating one by name, with no stand-in for that URL.
    # The Live class above runs them over the same Agents frames.


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
    def supports_image_inputs(self) -> bool:
        return False  # the HTTP wire formats (2024-25) had no image input: refused before sending

    @property
    def enable_vcr_tests(self) -> bool:
        return True
