"""``CloudflarePlayground`` as a function-calling LLM: agents, ``predict_and_call``, programs."""

from __future__ import annotations

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.llms.custom import CustomLLM
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from llama_index_cloudflare_playground import CloudflarePlayground


class Invoice(BaseModel):
    """An invoice read from text."""

    customer: str
    total: int


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


@pytest.fixture
def llm(each_wire_format):
    return CloudflarePlayground(
        base_url=each_wire_format.url, wire_format=each_wire_format.wire_format
    )


def test_it_is_a_function_calling_llm(llm):
    assert isinstance(llm, FunctionCallingLLM)
    assert isinstance(llm, CustomLLM)
    assert llm.metadata.is_function_calling_model


# LlamaIndex's workflow runner lists an agent's members with inspect.getmembers, which touches
# pydantic's deprecated attributes; the warnings are theirs, not ours (as in test_llama_index_llm).
@pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20")
@pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211")
@pytest.mark.filterwarnings("ignore:is_running called from within a step:DeprecationWarning")
async def test_function_agent_calls_a_python_tool_and_answers_from_it(llm):
    calls: list[tuple[int, int]] = []

    def add(a: int, b: int) -> int:
        """Add two integers."""
        calls.append((a, b))
        return a + b

    agent = FunctionAgent(tools=[add, multiply], llm=llm, system_prompt="You do arithmetic.")
    response = await agent.run("What is 19 + 23? Use add.")

    assert calls == [(19, 23)]  # the tool ran, once, with the request's numbers
    assert str(response) == "The tool answered: 42."
    assert [t.tool_name for t in response.tool_calls] == ["add"]


def test_structured_predict_returns_a_validated_object(llm):
    prompt = PromptTemplate("Read this invoice: {text}")
    invoice = llm.structured_predict(Invoice, prompt, text="'ACME Corp' owes 120 euros.")
    assert invoice == Invoice(customer="ACME Corp", total=120)


async def test_astructured_predict(llm):
    prompt = PromptTemplate("Read this invoice: {text}")
    invoice = await llm.astructured_predict(Invoice, prompt, text="'Globex' owes 7 euros.")
    assert invoice == Invoice(customer="Globex", total=7)


def test_predict_and_call_runs_the_tool(llm):
    tool = FunctionTool.from_defaults(fn=multiply)
    response = llm.predict_and_call([tool], "What is 6 times 7? Use multiply.")
    assert response.response == "42"


def test_chat_with_tools_gives_tool_call_blocks_and_selections(llm):
    tools = [FunctionTool.from_defaults(fn=multiply)]
    response = llm.chat_with_tools(tools, "Multiply 3 by 5 with multiply.", tool_required=True)
    blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    assert [(b.tool_name, b.tool_kwargs) for b in blocks] == [("multiply", {"a": 3, "b": 5})]
    (selection,) = llm.get_tool_calls_from_response(response)
    assert (selection.tool_name, selection.tool_kwargs) == ("multiply", {"a": 3, "b": 5})
    assert selection.tool_id == blocks[0].tool_call_id


def test_no_call_is_an_error_only_when_asked(llm):
    tools = [FunctionTool.from_defaults(fn=multiply)]
    response = llm.chat_with_tools(tools, "Hello there!")
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="the model called no tool"):
        llm.get_tool_calls_from_response(response)


async def test_streamed_tool_calls_arrive_in_the_last_response(llm):
    tools = [FunctionTool.from_defaults(fn=multiply)]
    stream = await llm.astream_chat_with_tools(tools, "What is 6 times 7? Use multiply.")
    responses = [response async for response in stream]
    selections = llm.get_tool_calls_from_response(responses[-1])
    assert [s.tool_kwargs for s in selections] == [{"a": 6, "b": 7}]
    assert all(not r.delta for r in responses)  # no JSON shown as text


def test_tool_results_in_history_reach_the_model(llm):
    history = [
        ChatMessage(role=MessageRole.USER, content="What is 6 times 7?"),
        ChatMessage(
            role=MessageRole.ASSISTANT,
            blocks=[
                ToolCallBlock(tool_call_id="c1", tool_name="multiply", tool_kwargs={"a": 6, "b": 7})
            ],
        ),
        ChatMessage(role=MessageRole.TOOL, content="42", additional_kwargs={"tool_call_id": "c1"}),
    ]
    tools = [FunctionTool.from_defaults(fn=multiply)]
    response = llm.chat_with_tools(tools, chat_history=history)
    assert response.message.content == "The tool answered: 42."
