"""``bind_tools`` and agents, as a LangChain user drives them, against the real local servers."""

from __future__ import annotations

import json

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from langchain_cloudflare_playground import ChatCloudflarePlayground


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


class GetWeather(BaseModel):
    """Get the weather at a location."""

    location: str = Field(description="a city")


def convert_currency(amount: float, currency: str) -> str:
    """Convert an amount of euros to a currency.

    Args:
        amount: How many euros.
        currency: The currency code, such as 'USD'.
    """
    return f"{amount * 1.1:.2f} {currency}"


LOOKUP = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look a word up.",
        "parameters": {
            "type": "object",
            "properties": {"word": {"type": "string"}},
            "required": ["word"],
        },
    },
}


@pytest.fixture
def llm(each_wire_format):
    return ChatCloudflarePlayground(
        base_url=each_wire_format.url, wire_format=each_wire_format.wire_format
    )


@pytest.mark.parametrize(
    ("prompt", "name", "args"),
    [
        ("What is 6 times 7? Use multiply.", "multiply", {"a": 6, "b": 7}),
        ("What is the weather in 'Porto'? Use GetWeather.", "GetWeather", {"location": "Porto"}),
        (
            "Use convert_currency for 20 euros in 'USD'.",
            "convert_currency",
            {"amount": 20, "currency": "USD"},
        ),
        ("Use lookup for 'serendipity'.", "lookup", {"word": "serendipity"}),
    ],
    ids=["langchain-tool", "pydantic", "function", "openai-dict"],
)
def test_every_kind_of_tool_can_be_called(llm, prompt, name, args):
    bound = llm.bind_tools([multiply, GetWeather, convert_currency, LOOKUP])
    message = bound.invoke(prompt)
    assert isinstance(message, AIMessage)
    assert [(call["name"], call["args"]) for call in message.tool_calls] == [(name, args)]
    assert message.tool_calls[0]["id"].startswith("call_")
    assert message.content == ""
    assert message.response_metadata["finish_reason"] == "tool_calls"


async def test_streamed_calls_come_as_tool_call_chunks(llm):
    bound = llm.bind_tools([multiply])
    chunks = [chunk async for chunk in bound.astream("What is 6 times 7? Use multiply.")]
    assert not any(chunk.content for chunk in chunks)  # no JSON shown as text
    call_chunks = [c for chunk in chunks for c in chunk.tool_call_chunks]
    assert len(call_chunks) == 1
    assert json.loads(call_chunks[0]["args"]) == {"a": 6, "b": 7}
    full = chunks[0]
    for chunk in chunks[1:]:
        full += chunk
    assert isinstance(full, AIMessageChunk)
    assert full.tool_calls == [
        {
            "name": "multiply",
            "args": {"a": 6, "b": 7},
            "id": call_chunks[0]["id"],
            "type": "tool_call",
        }
    ]


def test_prose_streams_before_a_fenced_call(llm):
    bound = llm.bind_tools([multiply])
    chunks = list(bound.stream("[fenced] What is 6 times 7? Use multiply."))
    text_positions = [i for i, chunk in enumerate(chunks) if chunk.content]
    call_positions = [i for i, chunk in enumerate(chunks) if chunk.tool_call_chunks]
    assert "".join(chunk.content for chunk in chunks).strip() == "I will use a tool."
    assert max(text_positions) < min(call_positions)


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        ("any", "multiply"),
        ("required", "multiply"),
        (True, "multiply"),
        ("GetWeather", "GetWeather"),
    ],
)
def test_tool_choice_forces_a_call(llm, tool_choice, expected):
    bound = llm.bind_tools([multiply, GetWeather], tool_choice=tool_choice)
    message = bound.invoke("Hello there!")
    assert [call["name"] for call in message.tool_calls] == [expected]


def test_tool_choice_none_and_auto_answer_in_words(llm):
    for choice in ("none", "auto"):
        message = llm.bind_tools([multiply], tool_choice=choice).invoke("Hello there!")
        assert message.tool_calls == []
        assert "Hello there!" in message.content


def test_unknown_tool_choice_is_refused_with_advice(llm):
    with pytest.raises(ValueError, match=r"is not one of the bound tools \(multiply\)"):
        llm.bind_tools([multiply], tool_choice="divide")


def test_tool_messages_in_history_reach_the_model_and_it_answers(llm):
    history = [
        HumanMessage("What is 6 times 7?"),
        AIMessage("", tool_calls=[{"name": "multiply", "args": {"a": 6, "b": 7}, "id": "c1"}]),
        ToolMessage("42", tool_call_id="c1"),
    ]
    message = llm.bind_tools([multiply]).invoke(history)
    assert message.tool_calls == []
    assert message.content == "The tool answered: 42."


@pytest.mark.parametrize("agent_wire_format", ["http", "agents"])
def test_create_agent_calls_a_tool_and_uses_its_result(server, agents_server, agent_wire_format):
    seen: list[tuple[int, int]] = []

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        seen.append((a, b))
        return a + b

    url = agents_server.url if agent_wire_format == "agents" else server.url
    agent = create_agent(
        ChatCloudflarePlayground(base_url=url, wire_format=agent_wire_format), [add]
    )
    state = agent.invoke({"messages": [HumanMessage("What is 19 + 23? Use add.")]})

    assert seen == [(19, 23)]  # the tool really ran, once, with the request's numbers
    kinds = [type(message).__name__ for message in state["messages"]]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert state["messages"][-1].content == "The tool answered: 42."


async def test_create_agent_async_with_two_tools(agents_server):
    @tool
    def shipping_cost(weight: int) -> str:
        """Shipping cost of a parcel, by weight in kilograms."""
        return f"{weight * 3} euros"

    llm = ChatCloudflarePlayground(base_url=agents_server.url, wire_format="agents")
    agent = create_agent(llm, [multiply, shipping_cost])
    state = await agent.ainvoke({"messages": [HumanMessage("What is the shipping_cost of 4 kg?")]})

    tool_messages = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert [m.content for m in tool_messages] == ["12 euros"]
    assert state["messages"][-1].content == "The tool answered: 12 euros."
