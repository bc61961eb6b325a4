"""Tool calling end to end, once per model family, over every wire format.

The scripted model plays each family as its model id says (``tests/scripted_families.py``): it
takes tools only when they are offered in the family's own format, writes its calls in the
family's native format (Llama's JSON and pythonic lists, Qwen's ``<tool_call>`` tags, Qwen 3.8's
and Nemotron 3's ``<function=...>`` tags, GLM's argument tags, Gemma 4's ``<|tool_call>``,
Mistral's ``[TOOL_CALLS]``, gpt-oss's harmony messages...) and reads results in the family's own
markup. So each test below fails if the client offers a family the wrong way,
cannot read what it writes, or sends results back in a form the family does not read.
"""

from __future__ import annotations

import json

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.tools import FunctionTool

from langchain_cloudflare_playground import ChatCloudflarePlayground
from langchain_cloudflare_playground.client import (
    Finish,
    PlaygroundClient,
    ReasoningDelta,
    TextDelta,
    Tool,
    ToolCall,
)
from langchain_cloudflare_playground.client.tools.offerings import offering_for
from llama_index_cloudflare_playground import CloudflarePlayground
from tests.helpers import ADD
from tests.scripted_families import family_for

# One model of every family in the catalog, and models that take the generic format.
MODELS = [
    "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    "@cf/meta/llama-3.1-8b-instruct-fp8",
    "@cf/meta/llama-3.2-3b-instruct",
    "@cf/meta/llama-4-scout-17b-16e-instruct",
    "@cf/google/gemma-3-12b-it",
    "@cf/qwen/qwen2.5-coder-32b-instruct",
    "@cf/qwen/qwq-32b",
    "@cf/qwen/qwen3-30b-a3b-fp8",
    "@hf/nousresearch/hermes-2-pro-mistral-7b",
    "@cf/zai-org/glm-4.7-flash",
    "@cf/zai-org/glm-5.3",
    "@cf/qwen/qwen3.8-27b",
    "@cf/nvidia/nemotron-3-120b-a12b",
    "@cf/google/gemma-4-26b-a4b-it",
    "@cf/ibm-granite/granite-4.0-h-micro",
    "@cf/mistralai/mistral-small-3.1-24b-instruct",
    "@cf/openai/gpt-oss-120b",
    "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b",
    "@hf/mistral/mistral-7b-instruct-v0.2",
    "@cf/moonshotai/kimi-k2.6",
]

WEATHER = Tool(
    "get_weather",
    "Get the weather at a location.",
    {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "A city."},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location"],
    },
)


def _short(model: str) -> str:
    return model.rsplit("/", 1)[-1]


pytestmark = pytest.mark.parametrize("model", MODELS, ids=_short)


def test_the_families_played_are_the_families_offered(model):
    """The scripted model's table and the package's are written apart; they name one family."""
    family = family_for(model)
    offering = offering_for(model).name
    if family is None:
        assert offering == "generic"
    else:
        assert offering == {"llama-pythonic": "pythonic", "llama-4": "pythonic"}.get(
            family.name, family.name
        )


async def test_calls_stream_as_events_and_no_native_markup_leaks_as_text(each_wire_format, model):
    async with PlaygroundClient(
        each_wire_format.url, wire_format=each_wire_format.wire_format
    ) as c:
        events = [
            event
            async for event in c.astream_chat(
                "Add 2 and 3 with add, then get_weather for 'Porto' in celsius.",
                tools=[ADD, WEATHER],
                model=model,
            )
        ]

    calls = [(e.name, dict(e.arguments)) for e in events if isinstance(e, ToolCall)]
    assert calls == [
        ("add", {"a": 2, "b": 3}),
        ("get_weather", {"location": "Porto", "unit": "celsius"}),
    ]
    assert [e.text for e in events if isinstance(e, TextDelta)] == []
    # Reasoning models think first; their reasoning is not the call.
    assert all(isinstance(e, (ReasoningDelta, ToolCall, Finish)) for e in events)
    assert isinstance(events[-1], Finish)
    assert events[-1].reason == "tool_calls"
    assert events[-1].tool_call_problem is None


async def test_results_go_back_the_familys_way_and_the_model_answers_from_them(
    each_wire_format, model
):
    async with PlaygroundClient(
        each_wire_format.url, wire_format=each_wire_format.wire_format
    ) as c:
        first = await c.achat("What is 19 + 23? Use add.", tools=[ADD], model=model)
        (call,) = first.tool_calls
        history = [
            {"role": "user", "content": "What is 19 + 23? Use add."},
            {
                "role": "assistant",
                "content": first.text,
                "tool_calls": [{"id": call.id, "name": call.name, "arguments": call.arguments}],
            },
            {"role": "tool", "tool_call_id": call.id, "content": "42"},
        ]
        reply = await c.achat(history, tools=[ADD], model=model)

    assert dict(call.arguments) == {"a": 19, "b": 23}
    assert reply.tool_calls == ()
    assert reply.text == "The tool answered: 42."


async def test_a_call_that_does_not_fit_is_sent_back_and_corrected(each_wire_format, model):
    async with PlaygroundClient(
        each_wire_format.url, wire_format=each_wire_format.wire_format
    ) as c:
        reply = await c.achat("[bad-args] What is 4 + 5? Use add.", tools=[ADD], model=model)

    assert [(t.name, dict(t.arguments)) for t in reply.tool_calls] == [("add", {"a": 4, "b": 5})]
    assert reply.tool_call_problem is None


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


async def test_langchain_bind_tools_streams_tool_call_chunks(each_wire_format, model):
    llm = ChatCloudflarePlayground(
        base_url=each_wire_format.url, wire_format=each_wire_format.wire_format, model=model
    )
    chunks = [
        c async for c in llm.bind_tools([multiply]).astream("What is 6 times 7? Use multiply.")
    ]

    assert not any(chunk.text for chunk in chunks)  # reasoning models think first, in blocks
    full = chunks[0]
    for chunk in chunks[1:]:
        full += chunk
    assert isinstance(full, AIMessageChunk)
    assert [(c["name"], c["args"]) for c in full.tool_calls] == [("multiply", {"a": 6, "b": 7})]
    call_chunks = [c for chunk in chunks for c in chunk.tool_call_chunks]
    assert [json.loads(c["args"]) for c in call_chunks] == [{"a": 6, "b": 7}]


def test_langchain_tool_messages_in_history_reach_the_model(each_wire_format, model):
    llm = ChatCloudflarePlayground(
        base_url=each_wire_format.url, wire_format=each_wire_format.wire_format, model=model
    )
    history = [
        HumanMessage("What is 6 times 7?"),
        AIMessage("", tool_calls=[{"name": "multiply", "args": {"a": 6, "b": 7}, "id": "c1"}]),
        ToolMessage("42", tool_call_id="c1"),
    ]
    message = llm.bind_tools([multiply]).invoke(history)
    assert message.tool_calls == []
    assert message.text == "The tool answered: 42."


def test_create_agent_runs_the_tool_and_answers(each_wire_format, model):
    seen: list[tuple[int, int]] = []

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        seen.append((a, b))
        return a + b

    llm = ChatCloudflarePlayground(
        base_url=each_wire_format.url, wire_format=each_wire_format.wire_format, model=model
    )
    state = create_agent(llm, [add, multiply]).invoke(
        {"messages": [HumanMessage("What is 19 + 23? Use add.")]}
    )

    assert seen == [(19, 23)]
    kinds = [type(message).__name__ for message in state["messages"]]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert state["messages"][-1].text == "The tool answered: 42."


async def test_llama_index_streamed_tool_calls_and_predict_and_call(each_wire_format, model):
    llm = CloudflarePlayground(
        base_url=each_wire_format.url, wire_format=each_wire_format.wire_format, model=model
    )
    tool = FunctionTool.from_defaults(fn=_multiply, name="multiply")
    stream = await llm.astream_chat_with_tools([tool], "What is 6 times 7? Use multiply.")
    responses = [response async for response in stream]
    selections = llm.get_tool_calls_from_response(responses[-1])

    assert [(s.tool_name, s.tool_kwargs) for s in selections] == [("multiply", {"a": 6, "b": 7})]
    assert all(not response.delta for response in responses)  # no native markup shown as text
    assert (await llm.apredict_and_call([tool], "Multiply 3 by 5 with multiply.")).response == "15"


def _multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


# LlamaIndex's workflow runner touches pydantic's deprecated attributes (as in
# test_llama_index_tools); the warnings are theirs.
@pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20")
@pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211")
@pytest.mark.filterwarnings("ignore:is_running called from within a step:DeprecationWarning")
async def test_function_agent_runs_the_tool_and_answers(each_wire_format, model):
    seen: list[tuple[int, int]] = []

    def add(a: int, b: int) -> int:
        """Add two integers."""
        seen.append((a, b))
        return a + b

    def subtract(a: int, b: int) -> int:
        """Subtract b from a."""
        return a - b

    llm = CloudflarePlayground(
        base_url=each_wire_format.url, wire_format=each_wire_format.wire_format, model=model
    )
    agent = FunctionAgent(tools=[add, subtract], llm=llm, system_prompt="You do arithmetic.")
    response = await agent.run("What is 19 + 23? Use add.")

    assert seen == [(19, 23)]
    assert [t.tool_name for t in response.tool_calls] == ["add"]
    assert str(response) == "The tool answered: 42."
