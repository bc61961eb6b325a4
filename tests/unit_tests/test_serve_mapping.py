"""The pure parts of ``cf-playground serve``: requests checked in, client events mapped out."""

from __future__ import annotations

import asyncio
import json

import pytest

from langchain_cloudflare_playground.client.events import Finish, ReasoningDelta, TextDelta, Usage
from langchain_cloudflare_playground.client.tools.spec import ToolCall
from langchain_cloudflare_playground.serve.admission import ConversationGate
from langchain_cloudflare_playground.serve.openai_errors import OpenAIError
from langchain_cloudflare_playground.serve.openai_reply import (
    ReplyBuilder,
    ReplyMeta,
    whole_completion,
)
from langchain_cloudflare_playground.serve.openai_request import parse_completion_request
from langchain_cloudflare_playground.serve.settings import is_loopback

USER = [{"role": "user", "content": "hi"}]
FINISH = Finish("stop", Usage(3, 4), "@cf/x/y")
META = ReplyMeta("chatcmpl-1", 0, "@cf/x/y")


def request(**fields):
    return parse_completion_request({"model": "m", "messages": USER, **fields})


def refused(**fields) -> OpenAIError:
    with pytest.raises(OpenAIError) as caught:
        request(**fields)
    assert caught.value.status == 400
    return caught.value


@pytest.mark.parametrize(
    "fields",
    [
        {"user": "u", "metadata": {"a": "b"}, "store": False, "service_tier": "auto"},
        {"n": 1, "top_p": 1, "presence_penalty": 0, "logprobs": False, "seed": None},
        {"stream": True, "stream_options": {"include_usage": True}},
        {"response_format": {"type": "text"}},
    ],
    ids=["harmless", "defaults", "stream options", "text format"],
)
def test_fields_that_change_nothing_are_accepted(fields):
    assert request(**fields).model == "m"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"top_p": 0.5}, "top_p"),
        ({"seed": 7}, "seed"),
        ({"frequency_penalty": 0.2}, "frequency_penalty"),
        ({"temperature": 3}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"messages": [{"role": "function", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"response_format": {"type": "json_schema", "json_schema": {}}}, None),
    ],
)
def test_fields_that_would_change_the_reply_are_refused_by_name(fields, param):
    error = refused(**fields)
    if param is not None:
        assert error.param == param


def test_messages_and_tools_in_the_clients_shape():
    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}
    tool = {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}
    parsed = request(
        messages=[
            {
                "role": "developer",
                "content": [{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}],
            },
            {"role": "user", "content": "add"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "1"},
        ],
        tools=[tool],
        tool_choice={"type": "function", "function": {"name": "add"}},
        max_completion_tokens=50,
    )
    assert parsed.messages[0] == {"role": "system", "content": "Be brief."}
    assert parsed.messages[2]["tool_calls"] == [{"id": "c1", "name": "add", "arguments": {"a": 1}}]
    assert parsed.messages[3] == {"role": "tool", "tool_call_id": "c1", "content": "1"}
    options = parsed.chat_options("@cf/x/y")
    assert options["tool_choice"] == "add"
    assert options["max_tokens"] == 50
    assert options["tools"][0]["name"] == "add"


def test_a_json_schema_becomes_a_call_the_model_must_make():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "Answer", "schema": schema}}
    options = request(response_format=fmt).chat_options("@cf/x/y")
    assert options["tool_choice"] == "Answer"
    assert options["tools"] == [
        {"name": "Answer", "description": options["tools"][0]["description"], "parameters": schema}
    ]


def test_json_object_asks_in_the_system_prompt():
    messages = request(response_format={"type": "json_object"}).chat_messages()
    assert messages[0]["role"] == "system"
    assert "one JSON object" in messages[0]["content"]
    assert messages[1:] == USER


def test_deltas_merge_what_came_together_and_keep_reasoning_apart():
    builder = ReplyBuilder(request())
    deltas = builder.feed(
        [ReasoningDelta("th"), ReasoningDelta("ink"), TextDelta("He"), TextDelta("llo"), FINISH]
    )
    assert deltas == [{"reasoning_content": "think"}, {"content": "Hello"}]
    assert (builder.done, builder.finish_reason, builder.usage) == (True, "stop", Usage(3, 4))
    whole = whole_completion(META, deltas, builder.finish_reason, builder.usage)
    message = whole["choices"][0]["message"]
    assert (message["content"], message["reasoning_content"]) == ("Hello", "think")
    assert whole["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


@pytest.mark.parametrize("cut", range(1, len("Hello STOP world")))
def test_a_stop_sequence_split_anywhere_cuts_the_reply(cut):
    text = "Hello STOP world"
    builder = ReplyBuilder(request(stop="STOP"))
    deltas = builder.feed([TextDelta(text[:cut])]) + builder.feed([TextDelta(text[cut:]), FINISH])
    assert "".join(d.get("content", "") for d in deltas) == "Hello "
    assert builder.finish_reason == "stop"


def test_a_stop_sequence_ends_the_batch_it_came_in():
    tools = [{"type": "function", "function": {"name": "f"}}]
    builder = ReplyBuilder(request(stop="STOP", tools=tools))
    pieces = [TextDelta(c) for c in "Hello STOP world"]
    deltas = builder.feed([*pieces, ToolCall("a", "f", {}), FINISH])
    assert deltas == [{"content": "Hello "}]
    assert (builder.done, builder.finish_reason, builder.usage) == (True, "stop", None)


def test_thousands_of_pieces_in_a_read_come_as_one_delta_per_kind():
    pieces = [TextDelta(f"{i} ") for i in range(5000)]
    builder = ReplyBuilder(request())
    deltas = builder.feed([ReasoningDelta("a"), ReasoningDelta("b"), *pieces, ReasoningDelta("c")])
    assert deltas == [
        {"reasoning_content": "ab"},
        {"content": "".join(p.text for p in pieces)},
        {"reasoning_content": "c"},
    ]
    assert not builder.done


def test_tool_calls_come_as_a_name_then_arguments():
    builder = ReplyBuilder(request(tools=[{"type": "function", "function": {"name": "f"}}]))
    calls = [ToolCall("call_1", "f", {"x": 1}), ToolCall("call_2", "f", {"x": 2})]
    deltas = builder.feed([*calls, FINISH])
    assert deltas[0] == {
        "tool_calls": [
            {
                "index": 0,
                "id": "call_1",
                "type": "function",
                "function": {"name": "f", "arguments": ""},
            }
        ]
    }
    assert deltas[1] == {"tool_calls": [{"index": 0, "function": {"arguments": '{"x": 1}'}}]}
    assert deltas[3]["tool_calls"][0]["index"] == 1
    assert builder.finish_reason == "tool_calls"
    message = whole_completion(META, deltas, "tool_calls", None)["choices"][0]["message"]
    assert message["content"] is None
    assert [c["function"]["arguments"] for c in message["tool_calls"]] == ['{"x": 1}', '{"x": 2}']


def test_no_parallel_tool_calls_keeps_the_first():
    tools = [{"type": "function", "function": {"name": "f"}}]
    builder = ReplyBuilder(request(tools=tools, parallel_tool_calls=False))
    deltas = builder.feed([ToolCall("a", "f", {}), ToolCall("b", "f", {}), FINISH])
    assert {piece["index"] for d in deltas for piece in d["tool_calls"]} == {0}


def test_a_json_object_is_read_out_of_fences_and_prose():
    builder = ReplyBuilder(request(response_format={"type": "json_object"}))
    deltas = builder.feed([TextDelta("Sure!\n```json\n{'a': 1,}"), TextDelta("\n```"), FINISH])
    assert [json.loads(d["content"]) for d in deltas] == [{"a": 1}]


def test_length_finish_is_openais_length():
    builder = ReplyBuilder(request())
    builder.feed([TextDelta("x"), Finish("length", None, "m")])
    assert builder.finish_reason == "length"


async def test_the_gate_queues_then_refuses():
    gate = ConversationGate(1, 1)
    await gate.enter()
    waiting = asyncio.create_task(gate.enter())
    await asyncio.sleep(0)  # it takes its seat in the queue
    with pytest.raises(OpenAIError) as caught:
        await gate.enter()
    assert (caught.value.status, caught.value.headers) == (429, {"Retry-After": "1"})
    gate.leave()
    await waiting
    assert (gate.in_flight, gate.waiting) == (1, 0)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("myhost", False),
    ],
)
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback
