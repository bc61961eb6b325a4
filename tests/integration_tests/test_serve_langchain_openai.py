"""LangChain's ``ChatOpenAI`` pointed at ``cf-playground serve``: invoke, stream, ``bind_tools``,
``with_structured_output``, and LangChain's standard integration suite run on ``ChatOpenAI``.

``ChatOpenAI`` is not ours: it speaks OpenAI's API as the partner package wrote it, so this is
the server's contract with the tools people already use.
"""

from __future__ import annotations

import httpx
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langchain_tests.integration_tests import ChatModelIntegrationTests
from pydantic import BaseModel

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


class Colour(BaseModel):
    """A colour and how many shades it has."""

    name: str
    shades: int


@pytest.fixture
def llm(served_http, upstream):
    return ChatOpenAI(
        model="llama-3.3-70b", base_url=served_http.base_url, api_key="unused", max_retries=0
    )


def test_invoke(llm):
    message = llm.invoke([("system", "Be brief."), ("human", "hello")])
    assert isinstance(message, AIMessage)
    assert message.content.startswith("Echo: hello | model=" + LLAMA + " | system=Be brief.")
    assert message.response_metadata["model_name"] == LLAMA
    assert message.response_metadata["finish_reason"] == "stop"
    assert message.usage_metadata["total_tokens"] > 0


def test_stream(llm):
    chunks = list(llm.stream("stream me", stream_usage=True))
    assert all(isinstance(chunk, AIMessageChunk) for chunk in chunks)
    whole = sum(chunks[1:], chunks[0])
    assert whole.content.startswith("Echo: stream me")
    assert whole.response_metadata["finish_reason"] == "stop"
    assert whole.usage_metadata["output_tokens"] > 0  # stream_options.include_usage


async def test_bind_tools_call_result_answer(llm):
    bound = llm.bind_tools([multiply])
    question = HumanMessage("What is 6 times 7? Use multiply.")
    call_message = await bound.ainvoke([question])
    (call,) = call_message.tool_calls
    assert (call["name"], call["args"]) == ("multiply", {"a": 6, "b": 7})
    result = ToolMessage(str(multiply.invoke(call["args"])), tool_call_id=call["id"])
    answer = await bound.ainvoke([question, call_message, result])
    assert not answer.tool_calls
    assert "42" in answer.content


def test_streamed_tool_calls(llm):
    chunks = list(llm.bind_tools([multiply], tool_choice="multiply").stream("6 times 7"))
    whole = sum(chunks[1:], chunks[0])
    assert [(c["name"], c["args"]) for c in whole.tool_calls] == [("multiply", {"a": 6, "b": 7})]


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_with_structured_output(llm, method):
    structured = llm.with_structured_output(Colour, method=method)
    prompt = "A colour named 'teal' with 5 shades."
    if method == "json_mode":
        # OpenAI's JSON mode takes no schema; the caller says what the object holds.
        prompt += " Answer in JSON with keys name and shades."
        result = llm.with_structured_output(method="json_mode").invoke(prompt)
        assert isinstance(result, dict)
        return
    assert structured.invoke(prompt) == Colour(name="teal", shades=5)


# Warnings of ChatOpenAI's own structured-output path (the openai SDK's parsed type, a pydantic
# v1 schema it switches to function calling), whatever the server answers.
@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning")
@pytest.mark.filterwarnings("ignore:Received a Pydantic BaseModel V1 schema:UserWarning")
class TestChatOpenAIAgainstServe(ChatModelIntegrationTests):
    """LangChain's standard integration suite, on ``ChatOpenAI``, through the server."""

    base_url: str = ""
    http_async_client: httpx.AsyncClient | None = None

    @pytest.fixture(autouse=True)
    def _served(self, served_http, upstream) -> None:
        type(self).base_url = served_http.base_url

    @pytest.fixture(autouse=True)
    async def _async_client(self):
        # ChatOpenAI shares one async HTTP client per process by default, bound to the event
        # loop it first ran on; each test runs a loop of its own, so each gets a client.
        async with httpx.AsyncClient() as client:
            type(self).http_async_client = client
            yield
        type(self).http_async_client = None

    @property
    def chat_model_class(self) -> type[ChatOpenAI]:
        return ChatOpenAI

    @property
    def chat_model_params(self) -> dict:
        return {
            "model": "llama-3.3-70b",
            "base_url": self.base_url,
            "api_key": "unused",
            "max_retries": 0,
            "stream_usage": True,
            "http_async_client": self.http_async_client,
        }

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "@cf/meta/llama-3.1-8b-instruct-fp8"

    @pytest.mark.xfail(
        reason="the scripted model behind the server answers a JSON mode request without a"
        ' schema with {"echo": ...}; it does not read the keys the prompt names in prose',
        strict=True,
    )
    def test_json_mode(self, model) -> None:
        super().test_json_mode(model)
