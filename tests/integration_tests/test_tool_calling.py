"""Tool calling through the shared client, in every wire format, against the real local servers.

The servers' scripted models follow the tool format the client writes into the prompt (see
``tests/agents_server/README.md``): they call the tool the request names, with the numbers and
quoted strings of the request as arguments, and answer from a tool's result once it comes back.
Triggers in the request (``[fenced]``, ``[bad-tool]``...) make them write replies the way
sloppier models do.
"""

from __future__ import annotations

import json

import pytest

from langchain_cloudflare_playground.client import (
    Finish,
    PlaygroundClient,
    TextDelta,
    Tool,
    ToolCall,
)
from tests.helpers import ADD

WEATHER = Tool(
    "get_weather",
    "Get the weather at a location.",
    {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
)


def _corrections(server) -> int:
    # (A first request with a system prompt may be asked twice while the client learns whether
    # the server speaks server-sent events or the data stream; corrections are counted apart.)
    prompts = [r.json["messages"][-1]["content"] for r in server.inference_requests]
    return sum(p.startswith("Your last reply could not be used:") for p in prompts)


async def _events(client, messages, **options):
    return [event async for event in client.astream_chat(messages, **options)]


async def test_a_call_comes_as_a_tool_call_event_not_as_text(each_wire_format):
    async with PlaygroundClient(each_wire_format.url) as client:
        events = await _events(client, "What is 12 + 30? Use add.", tools=[ADD, WEATHER])

    calls = [e for e in events if isinstance(e, ToolCall)]
    assert [(c.name, dict(c.arguments)) for c in calls] == [("add", {"a": 12, "b": 30})]
    assert calls[0].id.startswith("call_")
    assert not [e for e in events if isinstance(e, TextDelta)]
    assert isinstance(events[-1], Finish)
    assert events[-1].reason == "tool_calls"
    assert events[-1].tool_call_problem is None


async def test_two_steps_call_then_answer_from_the_result(each_wire_format):
    async with PlaygroundClient(each_wire_format.url) as client:
        first = await client.achat("What is 12 + 30? Use add.", tools=[ADD])
        (call,) = first.tool_calls
        result = call.arguments["a"] + call.arguments["b"]
        history = [
            {"role": "user", "content": "What is 12 + 30? Use add."},
            {"role": "assistant", "content": first.text, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"sum": result})},
        ]
        second = await client.achat(history, tools=[ADD])

    assert second.tool_calls == ()
    assert second.text == 'The tool answered: {"sum": 42}.'
    assert second.finish_reason == "stop"


async def test_prose_before_a_fenced_call_streams_and_the_fence_does_not(each_wire_format):
    async with PlaygroundClient(each_wire_format.url) as client:
        events = await _events(client, "[fenced] Add 2 and 3 with add.", tools=[ADD])

    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert "".join(texts).strip() == "I will use a tool."
    first_call = next(i for i, e in enumerate(events) if isinstance(e, ToolCall))
    assert max(i for i, e in enumerate(events) if isinstance(e, TextDelta)) < first_call
    assert [dict(e.arguments) for e in events if isinstance(e, ToolCall)] == [{"a": 2, "b": 3}]


async def test_a_reply_without_a_call_is_plain_text_under_auto(each_wire_format):
    async with PlaygroundClient(each_wire_format.url) as client:
        reply = await client.achat("[prose] What is 2 + 3?", tools=[ADD])

    assert reply.text == "I would rather answer in words."
    assert reply.tool_calls == ()
    assert reply.tool_call_problem is None


@pytest.mark.parametrize("trigger", ["[bad-tool]", "[bad-args]"])
async def test_a_wrong_call_is_fixed_after_one_correction(server, trigger):
    async with PlaygroundClient(server.url) as client:
        reply = await client.achat(f"{trigger} What is 4 + 5? Use add.", tools=[ADD])

    assert [(c.name, dict(c.arguments)) for c in reply.tool_calls] == [("add", {"a": 4, "b": 5})]
    assert reply.tool_call_problem is None
    last = server.inference_requests[-1].json["messages"]
    assert _corrections(server) == 1  # one try, one correction, no more
    assert last[-1]["content"].startswith("Your last reply could not be used:")
    assert ("no_such_tool" in last[-1]["content"]) == (trigger == "[bad-tool]")
    assert last[-2]["role"] == "assistant"  # the reply being corrected


async def test_a_call_still_wrong_after_the_correction_returns_text_and_the_reason(server):
    async with PlaygroundClient(server.url) as client:
        reply = await client.achat("[always-bad] What is 4 + 5? Use add.", tools=[ADD])

    assert reply.tool_calls == ()
    assert '"no_such_tool"' in reply.text  # the model's own words, not dropped
    assert reply.tool_call_problem is not None
    assert 'it calls "no_such_tool", which is not a tool here' in reply.tool_call_problem
    assert _corrections(server) == 1  # bounded: never a third try
    last = server.inference_requests[-1].json["messages"][-1]["content"]
    assert last.startswith("Your last reply could not be used:")


async def test_correction_in_the_agents_frames(agents_server):
    async with PlaygroundClient(agents_server.url, wire_format="agents") as client:
        fixed = await client.achat("[bad-args] What is 4 + 5? Use add.", tools=[ADD])
        stuck = await client.achat("[always-bad] What is 4 + 5? Use add.", tools=[ADD])

    assert [dict(c.arguments) for c in fixed.tool_calls] == [{"a": 4, "b": 5}]
    assert stuck.tool_calls == ()
    assert "no_such_tool" in (stuck.tool_call_problem or "")


async def test_required_choice_and_a_model_that_will_not_call(server):
    async with PlaygroundClient(server.url) as client:
        reply = await client.achat("[prose] Hello!", tools=[ADD], tool_choice="required")

    assert reply.tool_calls == ()
    assert reply.text == "I would rather answer in words."
    assert "it calls no tool, but it must call at least one tool" in (reply.tool_call_problem or "")


async def test_a_named_choice_is_called_even_when_the_request_says_nothing(each_wire_format):
    async with PlaygroundClient(each_wire_format.url) as client:
        reply = await client.achat(
            "Hello from 'Lisbon'!", tools=[ADD, WEATHER], tool_choice="get_weather"
        )

    assert [(c.name, dict(c.arguments)) for c in reply.tool_calls] == [
        ("get_weather", {"location": "Lisbon"})
    ]


async def test_choice_none_offers_no_tools(server):
    async with PlaygroundClient(server.url) as client:
        reply = await client.achat("What is 2 + 3? Use add.", tools=[ADD], tool_choice="none")

    assert reply.tool_calls == ()
    assert reply.text.startswith("Echo: What is 2 + 3? Use add.")
    assert "# Tools" not in json.dumps(server.inference_requests[-1].json)


async def test_several_calls_in_one_reply(each_wire_format):
    async with PlaygroundClient(each_wire_format.url) as client:
        reply = await client.achat(
            "Use add on 1 and 2, then get_weather for 'Oslo'.", tools=[ADD, WEATHER]
        )

    assert [(c.name, dict(c.arguments)) for c in reply.tool_calls] == [
        ("add", {"a": 1, "b": 2}),
        ("get_weather", {"location": "Oslo"}),
    ]
    assert len({c.id for c in reply.tool_calls}) == 2


def test_sync_twin_carries_tools(server):
    with PlaygroundClient(server.url) as client:
        as_dict = {"name": "add", "description": "Add.", "parameters": dict(ADD.parameters)}
        events = list(client.stream_chat("What is 7 + 8? Use add.", tools=[as_dict]))

    assert [dict(e.arguments) for e in events if isinstance(e, ToolCall)] == [{"a": 7, "b": 8}]


@pytest.mark.parametrize(
    ("options", "error", "advice"),
    [
        ({"tools": [ADD], "tool_choice": "multiply"}, ValueError, "use one of 'add'"),
        ({"tool_choice": "required"}, ValueError, "needs tools"),
        ({"tools": [{"description": "no name"}]}, TypeError, "pass a Tool or a dict with 'name'"),
    ],
)
async def test_bad_tool_options_fail_before_any_request(server, options, error, advice):
    async with PlaygroundClient(server.url) as client:
        with pytest.raises(error, match=advice):
            await client.achat("Hi", **options)

    assert server.inference_requests == []


def test_a_tool_name_that_cannot_be_offered_is_refused():
    with pytest.raises(ValueError, match="without spaces or quotes"):
        Tool("get weather")
