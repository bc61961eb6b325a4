"""``CloudflarePlayground`` as a LlamaIndex user drives it, against the real local servers."""

from __future__ import annotations

import json

import pytest
from llama_index.core import Document, SummaryIndex
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, MessageRole, TextBlock
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.llms import LLM
from pydantic import Field

from llama_index_cloudflare_playground import CloudflarePlayground
from tests.helpers import run_example

HISTORY = [
    ChatMessage(role=MessageRole.SYSTEM, content="Be brief."),
    ChatMessage(role=MessageRole.USER, content="Hi"),
    ChatMessage(role=MessageRole.ASSISTANT, content="Hello"),
    ChatMessage(role=MessageRole.USER, content="Name a colour"),
]


class _Events(BaseEventHandler):
    names: list[str] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "TestEvents"

    def handle(self, event, **kwargs) -> None:
        self.names.append(type(event).__name__)


@pytest.fixture
def events():
    handler = _Events(names=[])
    dispatcher = get_dispatcher()
    dispatcher.add_event_handler(handler)
    yield handler.names
    dispatcher.event_handlers.remove(handler)


async def test_all_eight_entry_points(server, events):
    llm = CloudflarePlayground(base_url=server.url)
    reply = llm.chat(HISTORY)
    assert reply.message.content.startswith("Echo: Name a colour |")
    assert "system=Be brief." in reply.message.content
    assert "turns=3" in reply.message.content
    assert reply.additional_kwargs["finish_reason"] == "stop"
    assert reply.additional_kwargs["total_tokens"] > 0

    streamed = list(llm.stream_chat(HISTORY))
    assert len(streamed) > 5
    assert (
        "".join(r.delta for r in streamed) == streamed[-1].message.content == reply.message.content
    )
    assert streamed[-1].additional_kwargs["finish_reason"] == "stop"

    assert (await llm.achat(HISTORY)).message.content == reply.message.content
    agen = await llm.astream_chat(HISTORY)  # a coroutine that returns an async generator
    async_streamed = [r async for r in agen]
    assert async_streamed[-1].message.content == reply.message.content

    assert llm.complete("plain").text.startswith("Echo: plain |")
    completions = list(llm.stream_complete("plain"))
    assert "".join(c.delta for c in completions) == completions[-1].text
    assert (await llm.acomplete("plain")).text.startswith("Echo: plain |")
    acompletions = [c async for c in await llm.astream_complete("plain")]
    assert acompletions[-1].text.startswith("Echo: plain |")

    # The decorated entry points fire LlamaIndex's instrumentation events.
    assert events.count("LLMChatStartEvent") == 4
    assert events.count("LLMChatEndEvent") == 4
    assert events.count("LLMCompletionStartEvent") == 4
    assert events.count("LLMCompletionEndEvent") == 4


def test_system_prompt_and_prompt_hooks(server):
    llm = CloudflarePlayground(
        base_url=server.url,
        system_prompt="Answer as a pirate.",
        completion_to_prompt=lambda prompt: f"Q: {prompt}",
    )
    assert "system=Answer as a pirate." in llm.complete("hi").text
    assert llm.complete("hi").text.startswith("Echo: Q: hi |")
    assert llm.complete("hi", formatted=True).text.startswith("Echo: hi |")
    # A conversation's own system message wins over system_prompt.
    assert "system=Be brief." in llm.chat(HISTORY).message.content


def test_reasoning_is_kept_apart(data_stream_server):
    reply = CloudflarePlayground(base_url=data_stream_server.url, model="qwq-32b").chat(HISTORY)
    thinking = [b for b in reply.message.blocks if b.block_type == "thinking"]
    assert thinking[0].content == "Let me think. The user wants an echo."
    assert "Let me think" not in reply.message.content


def test_roles_and_blocks_the_playground_cannot_carry(server):
    llm = CloudflarePlayground(base_url=server.url)
    with pytest.raises(ValueError, match="role 'function'"):
        llm.chat([ChatMessage(role=MessageRole.FUNCTION, content="42")])
    # A tool result must answer a call made earlier in the conversation.
    with pytest.raises(ValueError, match="tool result for an unknown call"):
        llm.chat([ChatMessage(role=MessageRole.TOOL, content="42")])
    image = ChatMessage(
        role=MessageRole.USER, blocks=[TextBlock(text="what"), ImageBlock(url="http://x/y.png")]
    )
    with pytest.raises(ValueError, match="takes no images"):  # refused before it is fetched
        llm.chat([image])
    assert server.inference_requests == []


def test_over_the_websocket(agents_server):
    llm = CloudflarePlayground(base_url=agents_server.url, temperature=0.25)
    reply = llm.chat(HISTORY)
    assert "system (state): Be brief." in reply.message.content
    assert "temperature: 0.25" in reply.message.content
    assert "prompt_tokens" not in reply.additional_kwargs  # no usage over the WebSocket


async def test_metadata_and_the_context_window_from_the_model_list(server):
    llm = CloudflarePlayground(base_url=server.url, model="sparrow-9b")
    assert isinstance(llm, LLM)
    assert llm.metadata.is_chat_model
    assert llm.metadata.num_output == 2048
    assert llm.metadata.context_window == 8192  # the default, before the list is known
    await llm.client.alist_models()
    assert llm.metadata.context_window == 8192  # sparrow-9b's own, from the list
    llama = CloudflarePlayground(base_url=server.url, model="llama-3.3-70b")
    llama._client = llm.client
    assert llama.metadata.context_window == 24000


def test_serialises_its_settings_and_nothing_secret(server):
    llm = CloudflarePlayground(base_url=server.url, proxy="http://user:pw@127.0.0.1:1")
    assert CloudflarePlayground.class_name() == "CloudflarePlayground"
    data = llm.to_dict()
    assert data["model"] == "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
    assert data["class_name"] == "CloudflarePlayground"
    assert "cookie" not in json.dumps(data).lower()
    assert "pw@" not in json.dumps(data)  # the proxy's password stays out
    assert llm.proxy == "http://user:pw@127.0.0.1:1"  # while the LLM still uses it


def test_every_client_option_and_wrong_ones_fail_when_the_llm_is_built(server):
    llm = CloudflarePlayground(
        base_url=server.url,
        wire_format="http",
        total_timeout=60,
        client_options={"transport": "direct", "cookies": {"session": "secret-cookie"}},
    )
    options = llm.client.options
    assert (options.transport, options.total_timeout, options.wire_format) == ("direct", 60, "http")
    assert "secret-cookie" not in json.dumps(llm.to_dict()) + repr(llm)
    assert llm.complete("hello").text.startswith("Echo: hello")
    assert server.inference_requests[-1].cookies["session"] == "secret-cookie"  # it was sent
    with pytest.raises(ValueError, match=r"unknown option\(s\) 'tranport'.*transport"):
        CloudflarePlayground(tranport="direct")
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        CloudflarePlayground(timeout=0)
    with pytest.warns(DeprecationWarning, match="`dialect` is now `wire_format`"):
        assert CloudflarePlayground(dialect="websocket").wire_format == "agents"


def test_the_errors_and_events_are_importable_from_the_package():
    import llama_index_cloudflare_playground as package
    from langchain_cloudflare_playground import client

    for name in ("PlaygroundError", "RateLimitError", "PlaygroundStreamError", "TextDelta"):
        assert getattr(package, name) is getattr(client, name)
    assert package.PlaygroundClient is client.PlaygroundClient


def test_a_query_engine_over_documents_without_embeddings(server):
    documents = [
        Document(text="The playground lets anyone chat with Workers AI models for free."),
        Document(text="Agents keep state in Durable Objects."),
    ]
    engine = SummaryIndex.from_documents(documents).as_query_engine(
        llm=CloudflarePlayground(base_url=server.url), response_mode="compact"
    )
    answer = str(engine.query("What does the playground let people do?"))
    asked = server.inference_requests[-1].json
    prompt = json.dumps(asked)
    assert "chat with Workers AI models for free" in prompt  # the documents were read
    assert "What does the playground let people do?" in prompt
    assert answer.strip()


def test_the_demo_example_runs_against_a_local_playground(server):
    output = run_example("llama_index_query.py", server.url)
    assert "== query over 3 documents ==" in output
    assert "Echo:" in output


async def test_all_eight_entry_points_over_the_websocket(agents_server, events):
    llm = CloudflarePlayground(base_url=agents_server.url)
    expected = "last user: Name a colour"
    assert llm.chat(HISTORY).message.content.endswith(expected)
    assert list(llm.stream_chat(HISTORY))[-1].message.content.endswith(expected)
    assert (await llm.achat(HISTORY)).message.content.endswith(expected)
    assert [r async for r in await llm.astream_chat(HISTORY)][-1].message.content.endswith(expected)
    assert llm.complete("plain").text.endswith("last user: plain")
    assert list(llm.stream_complete("plain"))[-1].text.endswith("last user: plain")
    assert (await llm.acomplete("plain")).text.endswith("last user: plain")
    assert [c async for c in await llm.astream_complete("plain")][-1].text.endswith(
        "last user: plain"
    )
    assert events.count("LLMChatEndEvent") == 4
    assert events.count("LLMCompletionEndEvent") == 4


# LlamaIndex's tools and workflows still use deprecated pydantic APIs (its code, not ours).
@pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20")
@pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211")
@pytest.mark.filterwarnings("ignore:is_running called from within a step:DeprecationWarning")
async def test_a_react_agent_calls_a_python_tool_through_this_llm(server):
    from llama_index.core.agent.workflow import ReActAgent
    from llama_index.core.tools import FunctionTool

    calls: list[tuple[int, int]] = []

    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        calls.append((a, b))
        return a * b

    agent = ReActAgent(
        tools=[FunctionTool.from_defaults(fn=multiply)],
        llm=CloudflarePlayground(base_url=server.url),
    )
    response = await agent.run(user_msg="What is 6 times 7?")
    assert calls == [(6, 7)]  # the agent parsed the model's Action and ran the tool
    assert "42" in str(response)  # and the answer came from the tool's observation
    second = server.inference_requests[-1].json
    assert "Observation: 42" in json.dumps(second)  # the observation went back to the model


@pytest.mark.parametrize("over", ["http", "websocket"])
async def test_cassettes_record_then_replay_with_sockets_off(server, agents_server, tmp_path, over):
    import vcr
    from pytest_socket import disable_socket, enable_socket

    from langchain_cloudflare_playground.testing import vcr_config

    url = server.url if over == "http" else agents_server.url
    cassette = str(tmp_path / "llama.yaml")

    async def run_all() -> list[str]:
        llm = CloudflarePlayground(base_url=url)
        return [
            llm.chat(HISTORY).message.content,
            "".join(r.delta for r in llm.stream_chat(HISTORY)),
            (await llm.achat(HISTORY)).message.content,
            "".join([r.delta async for r in await llm.astream_chat(HISTORY)]),
            llm.complete("plain").text,
            (await llm.acomplete("plain")).text,
        ]

    with vcr.use_cassette(cassette, record_mode="once", **vcr_config()):
        recorded = await run_all()
    disable_socket(allow_unix_socket=True)
    try:
        with vcr.use_cassette(cassette, record_mode="none", **vcr_config()) as replayed:
            assert await run_all() == recorded
            assert replayed.play_count > 0
    finally:
        enable_socket()
    assert len(set(recorded[:4])) == 1  # the four chat entry points gave one reply
