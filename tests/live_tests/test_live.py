"""The live canary: the entry points users rely on, against the real site, over the transport
the ladder picks. Run with ``make live`` (``CF_PLAYGROUND_LIVE=1``); see ``conftest.py``."""

from __future__ import annotations

import pytest
from langchain_core.tools import tool
from llama_index.core.base.llms.types import ChatMessage, MessageRole

from langchain_cloudflare_playground import ChatCloudflarePlayground
from langchain_cloudflare_playground.client import DEFAULT_MODEL, PlaygroundClient
from llama_index_cloudflare_playground import CloudflarePlayground
from tests.live_tests.site import LIVE_URL
from tests.standard_contract import PlaygroundContract


class TestLangChainStandardLive(PlaygroundContract):
    """LangChain's standard integration suite, against the live site."""

    @property
    def chat_model_params(self) -> dict:
        return {"model": "llama-3.3-70b", "base_url": LIVE_URL}

    @property
    def returns_usage_metadata(self) -> bool:
        return False  # the Agents frames carry no token counts (docs/wire-formats.md)


async def test_the_model_list_holds_the_default_model():
    async with PlaygroundClient(LIVE_URL) as client:
        models = await client.alist_models(refresh=True)
        assert client.models.fetch_error is None  # the site's own list, not the built-in table
    ids = [model.id for model in models]
    assert DEFAULT_MODEL in ids
    assert len(ids) >= 3


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two whole numbers."""
    return a * b


def test_one_tool_call():
    llm = ChatCloudflarePlayground(model="llama-3.3-70b", base_url=LIVE_URL, temperature=0)
    message = llm.bind_tools([multiply], tool_choice="multiply").invoke("What is 6 times 7?")
    assert [call["name"] for call in message.tool_calls] == ["multiply"]
    assert message.tool_calls[0]["args"] == {"a": 6, "b": 7}


@pytest.fixture
def llm() -> CloudflarePlayground:
    return CloudflarePlayground(model="llama-3.3-70b", base_url=LIVE_URL, temperature=0)


PROMPT = "Reply with the single word: pong"


def test_llama_index_complete_and_chat(llm):
    assert llm.complete(PROMPT).text.strip()
    reply = llm.chat([ChatMessage(role=MessageRole.USER, content=PROMPT)])
    assert reply.message.content.strip()


def test_llama_index_streams(llm):
    pieces = list(llm.stream_complete(PROMPT))
    assert pieces
    assert pieces[-1].text == "".join(piece.delta for piece in pieces)


async def test_llama_index_async_entry_points(llm):
    assert (await llm.acomplete(PROMPT)).text.strip()
    pieces = [piece async for piece in await llm.astream_chat(
        [ChatMessage(role=MessageRole.USER, content=PROMPT)]
    )]  # fmt: skip
    assert pieces
    assert pieces[-1].message.content.strip()
