"""Property tests for the wire decoders: HTTP bytes and lines, and Agents SDK WebSocket frames.

Two kinds of property throughout:

* a valid stream decodes to what was sent, however its bytes or frames are split or interleaved;
* arbitrary input fails only with the package's own errors (``PlaygroundError``), never with
  whatever the standard library raised.

The model text inside a reply (tool calls, lenient JSON) is ``test_fuzz_tool_text.py``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from langchain_cloudflare_playground.client.drivers.base import iter_lines
from langchain_cloudflare_playground.client.errors import (
    PlaygroundError,
    PlaygroundProtocolError,
)
from langchain_cloudflare_playground.client.events import (
    Finish,
    ReasoningDelta,
    TextDelta,
    Usage,
)
from langchain_cloudflare_playground.client.transports.base import HttpResponse
from langchain_cloudflare_playground.client.wire_formats import LineDecoder, detect_http_wire_format
from langchain_cloudflare_playground.client.wire_formats.agents_frames import (
    CHAT_REQUEST_ID,
    AgentChatDecoder,
    decode_rpc_reply,
)
from langchain_cloudflare_playground.client.wire_formats.base import parse_json_frame
from langchain_cloudflare_playground.client.wire_formats.data_stream import DataStreamDecoder
from langchain_cloudflare_playground.client.wire_formats.data_stream import (
    _plain_text_line as data_stream_plain_line,
)
from langchain_cloudflare_playground.client.wire_formats.sse import SseDecoder
from langchain_cloudflare_playground.client.wire_formats.sse import _plain_line as sse_plain_line

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable

    from langchain_cloudflare_playground.client.events import ChatEvent
from tests.strategies import (
    DEEP,
    FUZZ,
    SHORT,
    TRICKY,
    Nesting,
    deltas,
    json_scalars,
    nested,
    nesting_depths,
    tricky_text,
)

MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"

reasons = st.sampled_from(["stop", "length", "tool-calls", "content-filter", "error", "other"])
newlines = st.sampled_from(["\n", "\r\n", "\r"])
token_counts = st.integers(min_value=0, max_value=2**31)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(deltas, inner, max_size=4),
    max_leaves=12,
)


def dumps(value: object, *, ascii_only: bool) -> str:
    return json.dumps(value, ensure_ascii=ascii_only)


@st.composite
def cut_into_pieces(draw: st.DrawFn, payload: bytes) -> list[bytes]:
    """``payload`` cut at arbitrary offsets; repeated offsets give empty reads, as sockets do."""
    if draw(st.booleans()) and len(payload) < 4096:
        cuts = list(range(len(payload) + 1))  # one byte per read
    else:
        cuts = draw(st.lists(st.integers(0, len(payload)), max_size=40))
    bounds = [0, *sorted(cuts), len(payload)]
    return [payload[start:end] for start, end in itertools.pairwise(bounds)]


# --- The HTTP path: bytes -> iter_lines (LineDecoder) -> wire format detection -> line decoder -


async def _body(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def decode_http(pieces: Iterable[bytes]) -> tuple[list[ChatEvent], bool]:
    """Decode a reply the way the HTTP driver does: the events, and whether it completed."""

    async def run() -> tuple[list[ChatEvent], bool]:
        events: list[ChatEvent] = []
        decoder = None
        response = HttpResponse(200, [], _body(list(pieces)))
        async for line in iter_lines(response):
            if decoder is None:
                if not line.strip():
                    continue
                decoder = detect_http_wire_format(line).decoder(MODEL)
            events.extend(decoder.feed(line))
            if decoder.done:
                return events, True  # the transport stops reading at the end marker
        return events, False

    return asyncio.run(run())


def text_of(events: Iterable[ChatEvent], kind: type[TextDelta | ReasoningDelta]) -> str:
    return "".join(event.text for event in events if isinstance(event, kind))


@st.composite
def sse_streams(draw: st.DrawFn) -> tuple[bytes, list[ChatEvent]]:
    """A reply of server-sent events encoded as a server does, and the events it must decode to."""
    newline = draw(newlines)
    ascii_only = draw(st.booleans())
    chunks = draw(st.lists(deltas.filter(lambda text: text != "</s>"), max_size=12))
    usage = draw(st.none() | st.tuples(token_counts, token_counts))
    lines = []
    for chunk in chunks:
        lines.extend(draw(st.lists(st.sampled_from([": keep-alive", "event: message", "id: 7"]))))
        lines.append("data: " + dumps({"response": chunk}, ascii_only=ascii_only))
    if draw(st.booleans()):
        lines.append('data: {"response":"</s>"}')  # old models' end-of-sequence token
    final: dict[str, Any] = {"response": ""}
    if usage is not None:
        final["usage"] = {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": sum(usage),
        }
    lines += ["data: " + dumps(final, ascii_only=ascii_only), "data: [DONE]"]
    separator = newline * 2
    body = "".join(line + separator for line in lines)
    body += draw(st.sampled_from(["", separator, ": bye\n", 'data: {"response":"late"}\n']))
    expected: list[ChatEvent] = [TextDelta(chunk) for chunk in chunks if chunk]
    expected.append(Finish("stop", Usage(*usage) if usage else None, MODEL))
    return body.encode(), expected


@st.composite
def data_streams(draw: st.DrawFn) -> tuple[bytes, list[ChatEvent]]:
    """An AI SDK data stream reply encoded as a server does, and the events it must decode to."""
    newline = draw(newlines)
    ascii_only = draw(st.booleans())
    parts = draw(st.lists(st.tuples(st.sampled_from("0g"), deltas), max_size=12))
    reason = draw(reasons)
    step_usage = draw(st.none() | st.tuples(token_counts, token_counts))
    final_usage = draw(st.none() | st.tuples(token_counts, token_counts))
    ignored = [
        '8:[{"annotation":1}]',
        '2:[{"x":"y"}]',
        'h:{"sourceType":"url","id":"s","url":"https://x"}',
        'b:{"toolCallId":"c","toolName":"t"}',
        'c:{"toolCallId":"c","argsTextDelta":"{\\"a\\""}',
    ]
    lines = ['f:{"messageId":"msg-abc123"}']
    for prefix, delta in parts:
        lines.extend(draw(st.lists(st.sampled_from(ignored), max_size=1)))
        lines.append(f"{prefix}:{dumps(delta, ascii_only=ascii_only)}")
    step: dict[str, Any] = {"finishReason": reason, "isContinued": False}
    if step_usage is not None:
        step["usage"] = {"promptTokens": step_usage[0], "completionTokens": step_usage[1]}
    finish: dict[str, Any] = {"finishReason": reason}
    if final_usage is not None:
        finish["usage"] = {"promptTokens": final_usage[0], "completionTokens": final_usage[1]}
    lines += ["e:" + dumps(step, ascii_only=ascii_only), "d:" + dumps(finish, ascii_only=False)]
    body = "".join(line + newline for line in lines)
    body += draw(st.sampled_from(["", newline, '0:"after the end"\n', "garbage after the end"]))
    expected: list[ChatEvent] = [
        TextDelta(delta) if prefix == "0" else ReasoningDelta(delta)
        for prefix, delta in parts
        if delta
    ]
    usage = final_usage or step_usage
    expected.append(Finish(reason, Usage(*usage) if usage else None, MODEL))
    return body.encode(), expected


http_streams = sse_streams() | data_streams()


@FUZZ
@given(stream=http_streams, data=st.data())
def test_any_split_of_a_valid_http_stream_decodes_to_what_was_sent(stream, data):
    payload, expected = stream
    pieces = data.draw(cut_into_pieces(payload))
    whole = decode_http([payload])
    assert whole == (expected, True)
    assert decode_http(pieces) == whole
    sent = [event for event in expected if isinstance(event, TextDelta)]
    assert text_of(whole[0], TextDelta) == "".join(event.text for event in sent)


# Garbage, text, and valid replies, run together.
stream_material = st.lists(
    st.binary(max_size=64)
    | tricky_text.map(str.encode)
    | http_streams.map(lambda stream: stream[0]),
    max_size=6,
).map(b"".join)


@FUZZ
@given(stream_material, st.data())
def test_arbitrary_bytes_on_the_http_path_raise_only_playground_errors(payload, data):
    pieces = data.draw(cut_into_pieces(payload))
    try:
        whole = decode_http([payload])
    except PlaygroundError:
        whole = None
    try:
        split = decode_http(pieces)
    except PlaygroundError:
        # Bytes after the end marker are never read, so only the split reads can get by a
        # broken byte there; what fails when read whole may work in pieces, never the reverse.
        assert whole is None
        return
    if whole is not None:
        assert split == whole


@FUZZ
@given(text=st.lists(st.text(max_size=8) | st.sampled_from(TRICKY), max_size=20), data=st.data())
def test_line_decoder_splits_text_on_cr_lf_and_crlf_only_however_it_is_read(text, data):
    joined = "".join(text)
    pieces = data.draw(cut_into_pieces(joined.encode()))
    decoder = LineDecoder()
    lines = [line for piece in pieces for line in decoder.feed(piece)] + decoder.finish()
    expected = joined.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if expected[-1] == "":
        expected.pop()
    assert lines == expected


@FUZZ
@given(st.lists(st.binary(max_size=32), max_size=10))
def test_line_decoder_raises_only_protocol_errors_on_arbitrary_bytes(pieces):
    decoder = LineDecoder()
    with contextlib.suppress(PlaygroundProtocolError):
        for piece in pieces:
            decoder.feed(piece)
        decoder.finish()


# Lines shaped like each wire format's, with arbitrary payloads, and plain arbitrary text.
sse_lines = (
    st.text(max_size=40)
    | tricky_text
    | json_values.map(lambda value: "data: " + json.dumps(value))
    | st.fixed_dictionaries(
        {},
        optional={
            "response": json_values,
            "usage": json_values
            | st.dictionaries(st.sampled_from(["prompt_tokens", "completion_tokens"]), json_values),
            "error": json_values,
            "errors": json_values,
        },
    ).map(lambda frame: "data:" + json.dumps(frame))
)
data_stream_lines = (
    st.text(max_size=40)
    | tricky_text
    | st.tuples(st.sampled_from("0123456789abcdefghijk"), json_values).map(
        lambda pair: f"{pair[0]}:{json.dumps(pair[1])}"
    )
    | st.tuples(
        st.sampled_from("ed"),
        st.fixed_dictionaries(
            {},
            optional={
                "finishReason": json_values,
                "usage": json_values
                | st.dictionaries(
                    st.sampled_from(["promptTokens", "completionTokens"]), json_values
                ),
            },
        ),
    ).map(lambda pair: f"{pair[0]}:{json.dumps(pair[1])}")
    | st.tuples(st.sampled_from("0g3ed"), st.text(max_size=20)).map(":".join)
)


@pytest.mark.parametrize(
    ("decoder_class", "lines"),
    [(SseDecoder, sse_lines), (DataStreamDecoder, data_stream_lines)],
    ids=["sse", "data-stream"],
)
def test_arbitrary_lines_raise_only_playground_errors(decoder_class, lines):
    @FUZZ
    @given(st.lists(lines, max_size=12))
    def check(sequence: list[str]) -> None:
        decoder = decoder_class(MODEL)
        try:
            for line in sequence:
                events = decoder.feed(line)
                assert all(event.text for event in events if not isinstance(event, Finish))
        except PlaygroundError:
            pass

    check()


@FUZZ
@given(st.text(max_size=60) | tricky_text | json_values.map(json.dumps))
def test_parse_json_frame_agrees_with_json_or_raises_a_protocol_error(payload):
    try:
        expected = json.loads(payload)
    except ValueError:
        with pytest.raises(PlaygroundProtocolError, match="malformed"):
            parse_json_frame(payload, "test")
    else:
        assert repr(parse_json_frame(payload, "test")) == repr(expected)


# --- Deep nesting and huge inputs --------------------------------------------------------------

nestings = st.builds(
    Nesting, nesting_depths | st.just(DEEP), st.sampled_from(["[", "{", '{"a":']), st.booleans()
)


def chat_response(body: str, **fields: object) -> str:
    return json.dumps(
        {"type": "cf_agent_use_chat_response", "id": CHAT_REQUEST_ID, "body": body, **fields}
    )


def wire_decoders_on(deep: str) -> Iterable[Callable[[], object]]:
    """Every wire decoder, each given ``deep`` where it reads a frame's JSON."""
    yield lambda: parse_json_frame(deep, "test")
    yield lambda: SseDecoder(MODEL).feed(f"data: {deep}")
    yield lambda: SseDecoder(MODEL).feed(f'data: {{"error":{deep}}}')
    for prefix in "0g3ed":
        yield lambda prefix=prefix: DataStreamDecoder(MODEL).feed(f"{prefix}:{deep}")
    yield lambda: AgentChatDecoder(MODEL).feed(deep)
    yield lambda: decode_rpc_reply(deep, "rpc-1")


@SHORT
@given(nestings)
def test_deeply_nested_json_raises_only_playground_errors_in_every_wire_decoder(nesting):
    deep = nesting.text
    for decode in wire_decoders_on(deep):
        with contextlib.suppress(PlaygroundError):
            decode()
    for frame in (chat_response(deep), chat_response(deep, error=True)):  # JSON in JSON
        with contextlib.suppress(PlaygroundError):
            AgentChatDecoder(MODEL).feed(frame)


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_json_nested_too_deeply_to_read_is_a_protocol_error(opener):
    deep = nested(DEEP, opener)
    for decode in wire_decoders_on(deep):
        with pytest.raises(PlaygroundProtocolError, match="nested too deeply"):
            decode()
    # Inside an agent frame: a chunk that cannot be read is a protocol error; an error body
    # that cannot be read is still the server's message, shown as it came.
    with pytest.raises(PlaygroundProtocolError, match="nested too deeply"):
        AgentChatDecoder(MODEL).feed(chat_response(deep))
    with pytest.raises(PlaygroundError, match=re.escape(deep[:50])):
        AgentChatDecoder(MODEL).feed(chat_response(deep, error=True))


def test_a_huge_line_and_a_huge_reply_decode():
    text = "é" * 300_000 + '"\\\n'
    payload = ("0:" + json.dumps(text) + '\nd:{"finishReason":"stop"}\n').encode()
    assert decode_http([payload[i : i + 16_384] for i in range(0, len(payload), 16_384)]) == (
        [TextDelta(text), Finish("stop", None, MODEL)],
        True,
    )


# --- Agents frames over the WebSocket ----------------------------------------------------------


def chunk_frame(chunk: dict[str, Any], request_id: str = CHAT_REQUEST_ID, **fields: object) -> str:
    return json.dumps(
        {
            "type": "cf_agent_use_chat_response",
            "id": request_id,
            "body": json.dumps(chunk),
            "done": False,
            **fields,
        }
    )


other_ids = st.sampled_from(["chat-2", "chat-10", "", "CHAT-1", "rpc-1"])
noise_frames = st.one_of(
    st.just(json.dumps({"type": "cf_agent_identity", "name": "room", "agent": "playground"})),
    json_values.map(lambda state: json.dumps({"type": "cf_agent_state", "state": state})),
    st.just(json.dumps({"type": "cf_agent_mcp_servers", "mcp": {"servers": {}}})),
    st.just(json.dumps({"type": "cf_agent_stream_resuming", "id": CHAT_REQUEST_ID})),
    json_values.map(
        lambda result: json.dumps(
            {"type": "rpc", "id": "r1", "success": True, "result": result, "done": True}
        )
    ),
    # Frames of other requests in the room, done and failed ones included.
    st.tuples(other_ids, deltas, st.booleans(), st.booleans()).map(
        lambda args: chunk_frame(
            {"type": "text-delta", "id": "t0", "delta": args[1]},
            args[0],
            done=args[2],
            error=args[3],
        )
    ),
    # Chunks of our request that carry nothing to show.
    st.sampled_from(
        [
            {"type": "start", "messageId": "m1"},
            {"type": "start-step"},
            {"type": "text-start", "id": "t0"},
            {"type": "text-end", "id": "t0"},
            {"type": "reasoning-start", "id": "r0"},
            {"type": "reasoning-end", "id": "r0"},
            {"type": "finish-step"},
            {"type": "tool-input-start", "toolCallId": "c1", "toolName": "t"},
            {"type": "tool-input-delta", "toolCallId": "c1", "inputTextDelta": "{"},
            {"type": "source-url", "sourceId": "s", "url": "https://example.com"},
            {"type": "data-weather", "data": {"delta": "not text"}},
            {"type": "text-delta", "id": "t0", "delta": ""},
            {"type": "text-delta", "id": "t0"},
            {"type": "text-delta", "id": "t0", "delta": 7},
            {"type": "brand-new-chunk", "delta": "not text"},
        ]
    ).map(chunk_frame),
    st.just(json.dumps({"type": "cf_agent_use_chat_response", "id": CHAT_REQUEST_ID, "body": ""})),
    json_values.filter(lambda value: not isinstance(value, dict)).map(json.dumps),
)


@st.composite
def agent_conversations(draw: st.DrawFn) -> tuple[list[str], list[ChatEvent]]:
    """The frames of one reply with noise between them, and the events they must decode to."""
    parts = draw(st.lists(st.tuples(st.sampled_from(["text", "reasoning"]), deltas), max_size=10))
    frames: list[str] = draw(st.lists(noise_frames, max_size=3))
    for kind, delta in parts:
        frames.append(chunk_frame({"type": f"{kind}-delta", "id": "x0", "delta": delta}))
        frames.extend(draw(st.lists(noise_frames, max_size=2)))
    reason = draw(st.none() | reasons)
    if reason is not None:
        chunk: dict[str, Any] = draw(
            st.sampled_from(
                [
                    {"type": "finish", "messageMetadata": {"finishReason": reason}},
                    {"type": "finish", "finishReason": reason},
                    {"type": "message-metadata", "messageMetadata": {"finishReason": reason}},
                ]
            )
        )
        frames.append(chunk_frame(chunk))
    frames.extend(draw(st.lists(noise_frames, max_size=2)))
    done_body = draw(st.sampled_from(["", "No response was generated by the agent."]))
    frames.append(chat_response(done_body, done=True))
    # Whatever follows the end of the request is not part of it, even an error.
    frames.extend(draw(st.lists(noise_frames | st.just(chat_response("late", error=True)))))
    expected: list[ChatEvent] = [
        TextDelta(delta) if kind == "text" else ReasoningDelta(delta)
        for kind, delta in parts
        if delta
    ]
    expected.append(Finish(reason, None, MODEL))
    return frames, expected


@FUZZ
@given(agent_conversations())
def test_agent_frames_decode_to_what_was_sent_whatever_is_interleaved(conversation):
    frames, expected = conversation
    decoder = AgentChatDecoder(MODEL)
    events = [event for frame in frames for event in decoder.feed(frame)]
    assert events == expected
    assert decoder.done


chunk_bodies = (
    st.text(max_size=30)
    | tricky_text
    | json_values.map(json.dumps)
    | st.fixed_dictionaries(
        {"type": st.sampled_from(["text-delta", "reasoning-delta", "finish", "error"]) | deltas},
        optional={
            "delta": json_values,
            "errorText": json_values,
            "finishReason": json_values,
            "messageMetadata": json_values | st.dictionaries(st.just("finishReason"), json_values),
            "message": json_values,
            "details": json_values,
        },
    ).map(json.dumps)
)
agent_frames = (
    st.text(max_size=40)
    | tricky_text
    | json_values.map(json.dumps)
    | st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["cf_agent_use_chat_response", "cf_agent_state_error", "rpc", "cf_agent_state"]
            )
            | deltas
        },
        optional={
            "id": st.sampled_from([CHAT_REQUEST_ID, "rpc-1"]) | json_values,
            "body": chunk_bodies | json_values,
            "done": json_values,
            "error": json_values,
            "success": json_values,
            "result": json_values,
            "state": json_values,
        },
    ).map(json.dumps)
)


@FUZZ
@given(st.lists(agent_frames, max_size=10))
def test_arbitrary_agent_frames_raise_only_playground_errors(frames):
    decoder = AgentChatDecoder(MODEL)
    for frame in frames:
        try:
            events = decoder.feed(frame)
        except PlaygroundError:
            continue
        assert all(event.text for event in events if not isinstance(event, Finish))
        with contextlib.suppress(PlaygroundError):
            decode_rpc_reply(frame, "rpc-1")


@given(st.text())
def test_the_sse_shortcut_reads_a_response_as_json_would(token):
    # The plain {"response": ...} event skips the JSON parse: the event must be the same.
    for separators in ((", ", ": "), (",", ":")):
        line = "data: " + json.dumps({"response": token}, ensure_ascii=False, separators=separators)
        expected = [TextDelta(token)] if token and token != "</s>" else []
        assert SseDecoder("m").feed(line) == expected


agent_frame_changes = st.sampled_from(
    [None, None, None, None, None, "order", "spacing", "ascii", "chunk", "values", "extra"]
)
# Text with nothing JSON escapes, so that most frames take the shortcut; deltas mix in the rest.
unescaped_text = st.text(st.characters(exclude_characters='"\\', exclude_categories=["Cc"]))


@st.composite
def delta_frames(draw: st.DrawFn) -> str:
    """A text (or reasoning) delta frame in the SDK's shape of any text, or one change off it."""
    change = draw(agent_frame_changes)
    chunk: dict[str, Any] = {
        "type": draw(st.sampled_from(["text-delta", "reasoning-delta"])),
        "id": draw(st.just("t0") | unescaped_text | deltas),
        "delta": draw(unescaped_text | deltas | st.text()),
    }
    frame: dict[str, Any] = {
        "body": None,
        "done": False,
        "id": CHAT_REQUEST_ID,
        "type": "cf_agent_use_chat_response",
    }
    if draw(st.booleans()):
        frame["seq"] = draw(st.integers(min_value=0, max_value=2**64))
    if change == "chunk":  # another chunk type, another order, more keys, other values
        chunk["type"] = draw(st.sampled_from(["text-delta", "reasoning-delta"]) | deltas)
        chunk["id"] = draw(deltas | json_values)
        chunk["delta"] = draw(json_values)
        chunk.update(draw(st.dictionaries(deltas, json_values, max_size=2)))
        chunk = dict(draw(st.permutations(list(chunk.items()))))
    if change == "values":
        frame["done"] = draw(json_values)
        frame["id"] = draw(other_ids | json_values)
        frame["type"] = draw(deltas)
        frame["seq"] = draw(st.integers(max_value=0) | json_values)
    if change == "extra":
        extra = st.sampled_from(["error", "continuation", "x"])
        frame.update(draw(st.dictionaries(extra, json_values, min_size=1)))
    ascii_only = change == "ascii" and draw(st.booleans())
    separators = (", ", ": ") if change == "spacing" and draw(st.booleans()) else (",", ":")
    frame["body"] = json.dumps(chunk, ensure_ascii=ascii_only, separators=separators)
    if change == "order":
        frame = dict(draw(st.permutations(list(frame.items()))))
    if change == "spacing":
        separators = draw(compact_or_spaced)
    return json.dumps(frame, ensure_ascii=change == "ascii", separators=separators)


compact_or_spaced = st.sampled_from([(",", ":"), (", ", ": ")])


def _outcome(feed: Callable[[str], list[ChatEvent]], frame: str) -> object:
    try:
        return feed(frame)
    except PlaygroundError as exc:
        return type(exc), str(exc)


@FUZZ
@given(st.lists(delta_frames() | agent_frames | noise_frames, max_size=12))
def test_the_agent_frame_shortcut_decodes_as_the_two_json_parses_would(frames):
    # The plain text-delta frame skips both JSON parses: every frame, and what the decoder keeps
    # of the reply's progress, must come out the same as by parsing it.
    fast, parsed = AgentChatDecoder(MODEL), AgentChatDecoder(MODEL)
    for frame in frames:
        assert _outcome(fast.feed, frame) == _outcome(parsed._feed_parsed, frame)
        assert fast.done == parsed.done
        assert fast.progress._seen == parsed.progress._seen
        assert fast.progress._received == parsed.progress._received


@given(
    st.sampled_from(["text", "reasoning"]),
    deltas | unescaped_text | st.text(),
    deltas | unescaped_text | st.text(),
)
def test_the_agent_frame_shortcut_takes_the_sdk_shape_of_any_text(kind, part_id, delta):
    # As the Agents SDK sends them (JSON.stringify: compact, raw Unicode), with and without seq.
    body = json.dumps(
        {"type": f"{kind}-delta", "id": part_id, "delta": delta},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    for seq in ({}, {"seq": 7}):
        frame = json.dumps(
            {
                "body": body,
                "done": False,
                "id": CHAT_REQUEST_ID,
                "type": "cf_agent_use_chat_response",
                **seq,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        expected = AgentChatDecoder(MODEL)._feed_parsed(frame)
        assert AgentChatDecoder(MODEL).feed(frame) == expected
        if delta:
            event = TextDelta(delta) if kind == "text" else ReasoningDelta(delta)
            assert expected == [event]


# Text put between the quotes as it is: with quotes, backslashes or control characters in it,
# a line only looks plain, and must not be read as if it were.
raw_text = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["\\n", '"', 'a"b', "\\u0041", "\t", "\x00", "\x7f", "\u2028", "\\", "</s>", "<\\/s>"]
)
plain_sse_lines = (
    (unescaped_text | deltas | st.just("</s>")).map(
        lambda token: "data: " + json.dumps({"response": token}, ensure_ascii=False)
    )
    | raw_text.map(lambda text: f'data: {{"response":"{text}"}}')
    | st.sampled_from(["", "data: [DONE]", ": keep-alive", 'data: {"response":""}'])
)
plain_data_stream_lines = (
    (unescaped_text | deltas).map(lambda text: "0:" + json.dumps(text, ensure_ascii=False))
    | raw_text.map(lambda text: f'0:"{text}"')
    | st.sampled_from(["", 'd:{"finishReason":"stop"}', 'e:{"finishReason":"length"}'])
)


@FUZZ
@given(raw_text, st.sampled_from(["", " "]))
def test_the_plain_line_shortcuts_read_only_what_json_reads_the_same(text, space):
    # The shortcuts take a line's token without a JSON parse; whenever one does, json.loads
    # must read the same line to the same token.
    sse = f'{{"response":{space}"{text}"}}'
    if (plain := sse_plain_line(f"data: {sse}")) is not None:
        assert json.loads(sse)["response"] == plain[1]
    if (plain := data_stream_plain_line(f'0:"{text}"')) is not None:
        assert json.loads(f'"{text}"') == plain[1]


def _one_by_one(decoder: SseDecoder | DataStreamDecoder, lines: list[str]) -> object:
    """The events of ``lines`` fed one at a time, stopping at the end; then the error, if any."""
    events: list[ChatEvent] = []
    try:
        for line in lines:
            events += decoder.feed(line)
            if decoder.done:
                break
    except PlaygroundError as exc:
        return events, (type(exc), str(exc))
    return events, None


def _in_one_go(decoder: SseDecoder | DataStreamDecoder, lines: list[str]) -> object:
    events: list[ChatEvent] = []
    try:
        decoder.feed_lines(lines, events)
    except PlaygroundError as exc:
        return events, (type(exc), str(exc))
    return events, None


@pytest.mark.parametrize(
    ("decoder_class", "lines"),
    [
        (SseDecoder, sse_lines | plain_sse_lines),
        (DataStreamDecoder, data_stream_lines | plain_data_stream_lines),
    ],
    ids=["sse", "data-stream"],
)
def test_feed_lines_decodes_as_feeding_one_line_at_a_time(decoder_class, lines):
    # feed_lines decodes the plain text line in its own loop: the events, the error and where
    # it stops must be those of feeding the lines one at a time.
    @FUZZ
    @given(st.lists(st.lists(lines, max_size=8), max_size=4))
    def check(reads: list[list[str]]) -> None:
        one, whole = decoder_class(MODEL), decoder_class(MODEL)
        for read in reads:
            assert _in_one_go(whole, read) == _one_by_one(one, read)
            assert whole.done == one.done

    check()
