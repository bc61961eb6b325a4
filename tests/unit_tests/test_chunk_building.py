"""The LangChain adapter's pure parts: message mapping, chunk building, stop sequences."""

from __future__ import annotations

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from langchain_cloudflare_playground.client import Finish, ReasoningDelta, TextDelta, Usage
from langchain_cloudflare_playground.client.messages import normalize_messages
from langchain_cloudflare_playground.client.stop_sequences import StopSequenceFilter
from langchain_cloudflare_playground.client.tools.offerings import (
    GENERIC,
    offering_for,
    written_for,
)
from langchain_cloudflare_playground.conversion import ChunkBuilder, to_playground_messages

MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"


def test_messages_map_onto_the_playgrounds_roles():
    assert to_playground_messages(
        [
            SystemMessage("s1"),
            HumanMessage("h"),
            AIMessage("a"),
            ChatMessage(role="user", content="u"),
            ChatMessage(role="assistant", content="x"),
            SystemMessage("s2"),
        ]
    ) == [
        {"role": "system", "content": "s1"},
        {"role": "user", "content": "h"},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": "x"},
        {"role": "system", "content": "s2"},
    ]


def test_earlier_reasoning_is_not_sent_back():
    earlier = AIMessage(content=[{"type": "reasoning", "reasoning": "hmm"}, "the answer"])
    assert to_playground_messages([earlier]) == [{"role": "assistant", "content": ["the answer"]}]


def _tool_history():
    return [
        HumanMessage("What is 1 + 2?"),
        AIMessage(
            [{"type": "text", "text": "Adding."}, {"type": "tool_use", "id": "c1", "name": "add"}],
            tool_calls=[{"name": "add", "args": {"a": 1, "b": 2}, "id": "c1"}],
        ),
        ToolMessage("3", tool_call_id="c1"),
        ToolMessage("overflow", tool_call_id="c1", status="error"),
    ]


def test_tool_calls_and_results_travel_as_text_the_model_can_read():
    conversation = normalize_messages(to_playground_messages(_tool_history()))
    turns = written_for(GENERIC, conversation, (), "auto").turns

    assert [turn.role for turn in turns] == ["user", "assistant", "user"]
    assert turns[1].content == (
        'Adding.\n{"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]}'
    )
    # Adjacent results go back as one turn; the tool is named from the call it answers.
    assert turns[2].content == (
        "Tool result for add (call 1):\n3\n\nTool error for add (call 1):\noverflow"
    )


def test_tool_calls_and_results_travel_in_the_model_familys_own_markup():
    conversation = normalize_messages(to_playground_messages(_tool_history()))
    turns = written_for(offering_for("@cf/qwen/qwq-32b"), conversation, (), "auto").turns

    assert turns[1].content == (
        'Adding.\n<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>'
    )
    assert turns[2].content == (
        "<tool_response>\n3\n</tool_response>\n<tool_response>\nError: overflow\n</tool_response>"
    )


def test_a_tool_result_for_no_known_call_is_refused_with_advice():
    with pytest.raises(ValueError, match=r"messages\[0\] is a tool result for an unknown call 't'"):
        normalize_messages(to_playground_messages([ToolMessage("1", tool_call_id="t")]))


@pytest.mark.parametrize(
    "message",
    [
        FunctionMessage(name="f", content="1"),
        ChatMessage(role="critic", content="x"),
    ],
)
def test_messages_the_playground_cannot_carry(message):
    with pytest.raises(ValueError, match=r"messages\[0\]"):
        to_playground_messages([message])


def merged(chunks):
    total = chunks[0].message
    for chunk in chunks[1:]:
        total += chunk.message
    return total


def test_events_become_chunks_and_the_last_carries_the_metadata():
    builder = ChunkBuilder(None)
    chunks = [
        chunk
        for event in [
            ReasoningDelta("think "),
            ReasoningDelta("more"),
            TextDelta("Hel"),
            TextDelta("lo"),
            Finish("stop", Usage(5, 2), MODEL),
        ]
        for chunk in builder.feed(event)
    ]
    message = merged(chunks)
    assert isinstance(message, AIMessageChunk)
    assert message.text == "Hello"
    assert message.content_blocks[0] == {"type": "reasoning", "reasoning": "think more", "index": 0}
    assert message.usage_metadata == {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}
    assert message.response_metadata == {
        "model_provider": "cloudflare-playground",
        "finish_reason": "stop",
        "model_name": MODEL,
    }
    assert chunks[-1].message.chunk_position == "last"
    assert all(c.message.chunk_position != "last" for c in chunks[:-1])


def test_a_stop_sequence_ends_the_text():
    builder = ChunkBuilder(["STOP"])
    texts = []
    for piece in ["ab", "cS", "TO", "P and more"]:
        texts += [c.text for c in builder.feed(TextDelta(piece))]
    assert "".join(texts) == "abc"
    assert builder.stopped
    final = builder.final_chunk().message
    assert final.chunk_position == "last"
    assert final.response_metadata["finish_reason"] == "stop"


def test_held_back_text_is_released_when_it_was_not_a_stop_sequence():
    builder = ChunkBuilder(["STOP"])
    chunks = builder.feed(TextDelta("abcST")) + builder.feed(Finish("length", None, MODEL))
    assert merged(chunks).text == "abcST"
    assert chunks[-1].message.response_metadata["finish_reason"] == "length"


@pytest.mark.parametrize("stops", [["STOP"], ["STOP", "TO"], ["\n\n"]])
def test_stop_filter_gives_the_same_text_for_every_split(stops):
    text = "hello ST world\n and STOP here\n\nafter"
    expected = text[: min(i for i in (text.find(s) for s in stops) if i >= 0)]
    for cut in range(len(text) + 1):
        watcher = StopSequenceFilter(stops)
        out = watcher.feed(text[:cut]) + watcher.feed(text[cut:]) + watcher.flush()
        assert out == expected, cut


def test_no_stop_sequences_passes_everything_through():
    watcher = StopSequenceFilter(None)
    assert watcher.feed("anything") == "anything"
    assert watcher.flush() == ""
