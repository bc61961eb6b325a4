"""Property tests for everything that reads untrusted input: wire bytes, frames and model text.

Two kinds of property throughout:

* a valid stream decodes to what was sent, however its bytes or frames are split or interleaved;
* arbitrary input fails only with the package's own errors (``PlaygroundError`` for the wire,
  ``ValueError`` for the lenient JSON reader), never with whatever the standard library raised.

Runs are derandomized and use no example database, so CI sees the same examples every time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
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
from langchain_cloudflare_playground.client.tools.lenient_json import (
    find_json_spans,
    loads_lenient,
)
from langchain_cloudflare_playground.client.tools.parser import parse_reply
from langchain_cloudflare_playground.client.tools.prose_splitter import ProseSplitter
from langchain_cloudflare_playground.client.tools.schema_check import check_arguments
from langchain_cloudflare_playground.client.tools.spec import Tool
from langchain_cloudflare_playground.client.transports.base import HttpResponse
from langchain_cloudflare_playground.client.wire_formats import LineDecoder, detect_http_wire_format
from langchain_cloudflare_playground.client.wire_formats.agents_frames import (
    CHAT_REQUEST_ID,
    AgentChatDecoder,
    decode_rpc_reply,
)
from langchain_cloudflare_playground.client.wire_formats.base import parse_json_frame
from langchain_cloudflare_playground.client.wire_formats.data_stream import DataStreamDecoder
from langchain_cloudflare_playground.client.wire_formats.sse import SseDecoder

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable

    from langchain_cloudflare_playground.client.events import ChatEvent

MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"

# Reproducible in CI: the same examples on every run, nothing remembered between runs.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
)
SHORT = settings(FUZZ, max_examples=40)


# --- Strategies --------------------------------------------------------------------------------

# Characters that have broken stream decoders before: JSON escapes, every line break, multi-byte
# and non-BMP characters, Unicode separators JSON carries unescaped, and text that looks like
# markup of one dialect or the other.
TRICKY = [
    '"',
    "\\",
    "\\n",
    "\n",
    "\r",
    "\r\n",
    "\t",
    "\x00",
    "\x1f",
    "\x7f",
    "\x85",
    "\u2028",
    "\u2029",
    "\ufeff",
    "é",
    "世界",
    "👋",
    "🏳️‍🌈",
    "\U0010ffff",
    " ",
    "</s>",
    "data: [DONE]",
    '0:"x"',
    'd:{"finishReason":"stop"}',
    "{",
    "}",
    "[",
    "]",
    "'",
    ":",
]
tricky_text = st.lists(st.sampled_from(TRICKY) | st.text(max_size=4), max_size=5).map("".join)
deltas = st.text(max_size=12) | tricky_text
reasons = st.sampled_from(["stop", "length", "tool-calls", "content-filter", "error", "other"])
newlines = st.sampled_from(["\n", "\r\n", "\r"])
token_counts = st.integers(min_value=0, max_value=2**31)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | deltas
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(deltas, inner, max_size=4),
    max_leaves=12,
)
# JSON whose equality survives a round trip (NaN is never equal to itself).
comparable_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | deltas,
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


# --- The HTTP path: bytes -> iter_lines (LineDecoder) -> dialect detection -> line decoder -----


async def _body(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def decode_http(pieces: Iterable[bytes]) -> tuple[list[ChatEvent], bool]:
    """Decode a reply the way the HTTP dialects do: the events, and whether it completed."""

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
    """A dialect-1 reply encoded as a server does, and the events it must decode to."""
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
    """A dialect-2 reply encoded as a server does, and the events it must decode to."""
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


# Lines shaped like each dialect's, with arbitrary payloads, and plain arbitrary text.
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
    ids=["dialect1", "dialect2"],
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

DEEP = 100_000


def nested(depth: int, opener: str = "[") -> str:
    closer = {"[": "]", "{": "}", '{"a":': "}"}[opener]
    return opener * depth + ("0" if opener == '{"a":' else "") + closer * depth


@dataclass(frozen=True)
class Nesting:
    """JSON nested ``depth`` deep (closed or not), kept small so failing examples print short."""

    depth: int
    opener: str
    closed: bool

    @property
    def text(self) -> str:
        return nested(self.depth, self.opener) if self.closed else self.opener * self.depth


# Depths around the interpreter's recursion limit, where json.loads starts to fail. The model
# text readers scan in Python, so they get the very deep inputs in the tests after these only.
nesting_depths = st.integers(min_value=900, max_value=1100) | st.just(5_000)
nestings = st.builds(
    Nesting, nesting_depths | st.just(DEEP), st.sampled_from(["[", "{", '{"a":']), st.booleans()
)
model_text_nestings = st.builds(
    Nesting, nesting_depths, st.sampled_from(["[", "{", '{"a":']), st.booleans()
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


@SHORT
@given(model_text_nestings, st.sampled_from(["auto", "required", "get_weather"]))
def test_deeply_nested_model_text_never_raises(nesting, choice):
    deep = nesting.text
    tools = [Tool("get_weather", parameters={"type": "object", "properties": {}})]
    for text in (deep, f'{{"name": "get_weather", "arguments": {deep}}}', f"Sure: {deep}"):
        reply = parse_reply(text, tools, choice)
        assert all(call.name == "get_weather" for call in reply.calls)
        with contextlib.suppress(ValueError):
            loads_lenient(text)
        splitter = ProseSplitter()
        assert splitter.feed(text) + splitter.held() == text


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_model_text_nested_too_deeply_to_read_is_text(opener):
    deep = nested(DEEP, opener)
    tools = [Tool("get_weather", parameters={"type": "object", "properties": {}})]
    call = f'{{"name": "get_weather", "arguments": {deep}}}'
    with pytest.raises(ValueError, match="nested too deeply"):
        loads_lenient(deep)
    assert parse_reply(deep, tools, "auto") == parse_reply(deep, tools, "none")
    reply = parse_reply(call, tools, "auto")
    assert (reply.text, reply.calls) == (call, ())
    assert reply.problem is not None
    assert "nested too deeply" in reply.problem


def test_a_huge_line_and_a_huge_reply_decode():
    text = "é" * 300_000 + '"\\\n'
    payload = ("0:" + json.dumps(text) + '\nd:{"finishReason":"stop"}\n').encode()
    assert decode_http([payload[i : i + 16_384] for i in range(0, len(payload), 16_384)]) == (
        [TextDelta(text), Finish("stop", None, MODEL)],
        True,
    )


def test_long_comma_separated_model_text_is_read_in_linear_time():
    # Not JSON (the x), so every comma goes through the repair pass, where quadratic work once
    # took 13 s on this text. The bound is generous: linear work takes well under a second.
    text = "[" + "1,   " * 200_000 + "x]"
    tools = [Tool("get_weather")]
    started = time.perf_counter()
    assert parse_reply(text, tools, "auto").calls == ()
    with pytest.raises(ValueError, match="Expecting value"):
        loads_lenient(text)
    assert time.perf_counter() - started < 5


# --- Dialect 3: Agents SDK WebSocket frames ----------------------------------------------------


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


# --- Model text: the tool-call parser and what it is built on ----------------------------------

tool_names = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
# Each simple argument schema with the values that fit it.
ARGUMENT_KINDS: dict[str, tuple[dict[str, Any], st.SearchStrategy[Any]]] = {
    "string": ({"type": "string"}, deltas),
    "integer": ({"type": "integer"}, st.integers(-(10**12), 10**12)),
    "number": (
        {"type": "number"},
        st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**6), 10**6),
    ),
    "boolean": ({"type": "boolean"}, st.booleans()),
    "enum": (
        {"type": "string", "enum": ["celsius", "fahrenheit"]},
        st.sampled_from(["celsius", "fahrenheit"]),
    ),
    "array": (
        {"type": "array", "items": {"type": "integer"}},
        st.lists(st.integers(-99, 99), max_size=4),
    ),
    "nullable": ({"type": ["string", "null"]}, st.none() | deltas),
    "bounded": ({"type": "integer", "minimum": 1, "maximum": 10}, st.integers(1, 10)),
    # Numbers written as text, which the check reads as numbers.
    "integer-text": ({"type": "integer"}, st.integers(-(10**30), 10**30).map(str)),
    "number-text": ({"type": "number"}, st.floats(allow_nan=False, allow_infinity=False).map(repr)),
}


@st.composite
def tools_with_kinds(draw: st.DrawFn) -> list[tuple[Tool, dict[str, str]]]:
    """Tools with simple schemas, each with the kind of each of its arguments."""
    names = draw(st.lists(tool_names, min_size=1, max_size=4, unique=True))
    tools = []
    for name in names:
        kinds = draw(
            st.dictionaries(
                st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True),
                st.sampled_from(sorted(ARGUMENT_KINDS)),
                max_size=4,
            )
        )
        required = draw(st.lists(st.sampled_from(sorted(kinds)), unique=True)) if kinds else []
        parameters: dict[str, Any] = {
            "type": "object",
            "properties": {arg: ARGUMENT_KINDS[kind][0] for arg, kind in kinds.items()},
            "required": required,
        }
        if draw(st.booleans()):
            parameters["additionalProperties"] = False
        tools.append((Tool(name, f"The {name} tool.", parameters), kinds))
    return tools


@st.composite
def arguments_for(draw: st.DrawFn, tool: Tool, kinds: dict[str, str]) -> dict[str, Any]:
    required = set(tool.parameters["required"])
    return {
        arg: draw(ARGUMENT_KINDS[kind][1])
        for arg, kind in kinds.items()
        if arg in required or draw(st.booleans())
    }


def single_quoted(value: object) -> str:
    """``value`` written the way Python prints it: single quotes, True/False/None."""
    if isinstance(value, str):
        escapes = {"\\": "\\\\", "'": "\\'"}
        body = "".join(
            escapes.get(char) or (json.dumps(char)[1:-1] if char < " " else char) for char in value
        )
        return f"'{body}'"
    if isinstance(value, dict):
        items = ", ".join(f"{single_quoted(k)}: {single_quoted(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list):
        return "[" + ", ".join(single_quoted(item) for item in value) + "]"
    if value is None or isinstance(value, bool):
        return str(value)
    return json.dumps(value)


@st.composite
def written_calls(draw: st.DrawFn, calls: list[tuple[str, object]]) -> str:
    """``calls`` written in one of the shapes models use, with prose, fences or tags around them."""
    name_key = draw(st.sampled_from(["name", "tool", "tool_name"]))
    argument_key = draw(st.sampled_from(["arguments", "parameters", "args", "input"]))

    def one(name: str, arguments: object) -> object:
        if draw(st.booleans()):
            return {"function": {"name": name, "arguments": json.dumps(arguments)}}
        return {name_key: name, argument_key: arguments}

    objects = [one(name, arguments) for name, arguments in calls]
    envelope = draw(st.sampled_from(["tool_calls", "list", "separate"]))
    if envelope == "tool_calls":
        values: list[object] = [{"tool_calls": objects}]
    elif envelope == "list":
        values = [objects]
    else:
        values = objects

    def write(value: object) -> str:
        style = draw(st.sampled_from(["json", "indented", "python", "trailing-comma"]))
        if style == "python":
            return single_quoted(value)
        indent = 2 if style == "indented" else None
        text = json.dumps(value, ensure_ascii=draw(st.booleans()), indent=indent)
        return text[:-1] + ",\n" + text[-1] if style == "trailing-comma" else text

    prose = st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="{["), max_size=30
    )
    out = [draw(prose)]
    for value in values:
        wrapper = draw(st.sampled_from(["bare", "fence", "tag"]))
        written = write(value)
        if wrapper == "fence":
            written = f"```{draw(st.sampled_from(['', 'json', 'tool_code']))}\n{written}\n```"
        elif wrapper == "tag":
            written = f"<tool_call>\n{written}\n</tool_call>"
        out += [written, draw(prose)]
    return "".join(out)


@FUZZ
@given(data=st.data(), tools=tools_with_kinds())
def test_a_valid_call_is_found_whatever_is_around_it(data, tools):
    picked = data.draw(st.lists(st.sampled_from(tools), min_size=1, max_size=3))
    calls = [(tool.name, data.draw(arguments_for(tool, kinds))) for tool, kinds in picked]
    text = data.draw(written_calls(calls))
    choice = data.draw(st.sampled_from(["auto", "required", *(name for name, _ in calls)]))

    reply = parse_reply(text, [tool for tool, _ in tools], choice)

    by_name = {tool.name: tool for tool, _ in tools}
    expected = [
        (name, check_arguments(by_name[name].parameters, arguments)) for name, arguments in calls
    ]
    assert all(not problems for _, (_, problems) in expected)
    assert reply.problem is None, (text, reply.problem)
    assert [(call.name, call.arguments) for call in reply.calls] == [
        (name, arguments) for name, (arguments, _) in expected
    ]
    assert "{" not in reply.text
    assert "[" not in reply.text


# The tools offered while arbitrary text is read, between them every kind of schema keyword.
OFFERED_TOOLS = [
    Tool(
        "get_weather",
        parameters={
            "type": "object",
            "properties": {
                "city": {"type": "string", "minLength": 1},
                "unit": {"enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    ),
    Tool(
        "search",
        parameters={
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 50},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                "since": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
            },
        },
    ),
    Tool(
        "calc",
        parameters={
            "type": "object",
            "properties": {
                "x": {"type": "number"},
                "n": {"type": ["integer", "null"]},
                "exact": {"type": "boolean"},
                "point": {"$ref": "#/$defs/point"},
            },
            "additionalProperties": False,
            "$defs": {
                "point": {
                    "type": "object",
                    "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                    "required": ["x", "y"],
                }
            },
        },
    ),
]
tool_sets = st.lists(st.sampled_from(OFFERED_TOOLS), min_size=1, unique_by=lambda tool: tool.name)

# Text a model might write: prose, call-shaped JSON (right, wrong and broken), fences and tags.
KEYS = ["name", "tool", "tool_name", "arguments", "parameters", "args", "input", "function"]
KEYS += ["tool_calls", "id", "type"]
ARGUMENT_NAMES = sorted(
    {name for tool in OFFERED_TOOLS for name in tool.parameters["properties"]} | {"y", "other"}
)
# Values on the edge of a type: numbers as text, too long or too big to be numbers.
EDGE_VALUES = ["3", " 7 ", "-0", "1.5", "1e400", "-1e999", "1" * 5000, "true", "False", "NaN"]
EDGE_VALUES += ["Infinity", "0x10", "١٢", "", "celsius"]
numbers_as_text = st.from_regex(
    r"\s?-?\d{1,3}(\.\d{1,3})?([eE][-+]?\d{1,4})?\s?", fullmatch=True
) | st.integers(4000, 5000).map(lambda digits: "9" * digits)
numbers = (
    st.integers()
    | st.floats()
    | st.integers(0, 500).map(lambda exponent: 10**exponent)  # past a float's range too
    | numbers_as_text
)
edge_values = st.sampled_from(EDGE_VALUES) | numbers
argument_values = st.recursive(
    json_scalars | edge_values,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(ARGUMENT_NAMES), inner, max_size=3)
    ),
    max_leaves=6,
)
argument_objects = st.dictionaries(st.sampled_from(ARGUMENT_NAMES), argument_values, max_size=4)
call_shaped = st.recursive(
    json_scalars | edge_values | st.sampled_from([tool.name for tool in OFFERED_TOOLS]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | deltas, inner, max_size=4)
    ),
    max_leaves=10,
)
# Calls to the offered tools (or to none of them), with arguments that may or may not fit.
calls_to_offered_tools = st.fixed_dictionaries(
    {
        "name": st.sampled_from([tool.name for tool in OFFERED_TOOLS] + ["rm_rf"]),
        "arguments": argument_objects | argument_values,
    }
)


def mangled(text: str, cut: int) -> str:
    return text[: cut % (len(text) + 1)]


model_text = st.lists(
    st.text(max_size=20)
    | tricky_text
    | st.sampled_from(["```json\n", "```", "<tool_call>", "</tool_call>", "True", ",}", ",]", "'"])
    | call_shaped.map(json.dumps)
    | call_shaped.map(single_quoted)
    | calls_to_offered_tools.map(json.dumps)
    | st.lists(calls_to_offered_tools, max_size=3).map(
        lambda calls: json.dumps({"tool_calls": calls})
    )
    | st.tuples(call_shaped.map(json.dumps), st.integers(0, 200)).map(lambda pair: mangled(*pair)),
    max_size=6,
).map("".join)


choices = st.sampled_from(["auto", "required", "none", *(tool.name for tool in OFFERED_TOOLS)])


def assert_reply_is_sound(text: str, tools: list[Tool], choice: str) -> None:
    """``parse_reply`` returns, and only calls it can stand by: offered tools, checked arguments."""
    if choice not in ("auto", "required", "none") and choice not in {tool.name for tool in tools}:
        choice = "auto"  # normalize_tool_choice refuses a name that is not offered
    reply = parse_reply(text, tools, choice)

    by_name = {tool.name: tool for tool in tools}
    for call in reply.calls:
        assert call.name in by_name
        assert check_arguments(by_name[call.name].parameters, call.arguments) == (
            call.arguments,
            [],
        )
    if not reply.calls:
        assert reply.text == text
    else:
        assert reply.problem is None
        if choice not in ("auto", "required"):
            assert any(call.name == choice for call in reply.calls)
    if choice == "none":
        assert (reply.text, reply.calls, reply.problem) == (text, (), None)
    elif choice != "auto" and reply.problem is None:
        assert reply.calls


@FUZZ
@given(model_text, tool_sets, choices)
def test_parse_reply_on_arbitrary_text_returns_only_calls_it_can_stand_by(text, tools, choice):
    assert_reply_is_sound(text, tools, choice)


def plausible(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values a model might give for ``schema``: mostly fitting, often on the edge of its type."""
    if "$ref" in schema:  # the point
        return st.fixed_dictionaries({"x": plausible_number, "y": plausible_number})
    if "enum" in schema:
        return mostly(st.sampled_from(schema["enum"]), edge_values)
    if "anyOf" in schema:
        return st.one_of([plausible(option) for option in schema["anyOf"]])
    kinds = {
        "number": plausible_number,
        "integer": mostly(st.integers(1, 49) | st.integers(1, 49).map(lambda n: f" {n}"), numbers),
        "string": mostly(st.text(min_size=1, max_size=8), numbers_as_text),
        "boolean": mostly(st.booleans(), st.sampled_from(["true", "False", " TRUE ", "yes"])),
        "null": st.none(),
        "array": st.lists(deltas, max_size=3),
    }
    types = schema["type"]
    return st.one_of([kinds[kind] for kind in ([types] if isinstance(types, str) else types)])


def mostly(fitting: st.SearchStrategy[Any], edgy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``fitting`` three times in four, else ``edgy``."""
    return st.integers(0, 3).flatmap(lambda pick: edgy if pick == 0 else fitting)


plausible_number = mostly(st.floats(allow_nan=False, allow_infinity=False), numbers)


@st.composite
def plausible_calls(draw: st.DrawFn, tools: list[Tool]) -> list[tuple[str, object]]:
    """Calls to ``tools`` with arguments close to their schemas, now and then to another tool."""
    calls: list[tuple[str, object]] = []
    for tool in draw(st.lists(st.sampled_from(tools), min_size=1, max_size=3)):
        required = set(tool.parameters.get("required", ()))
        arguments = {
            name: draw(plausible(schema))
            for name, schema in tool.parameters["properties"].items()
            if name in required or draw(st.booleans())
        }
        calls.append((tool.name, arguments))
    if draw(st.integers(0, 9)) == 7:  # not 0: Hypothesis draws the bounds far more often
        calls.append(("rm_rf", draw(argument_objects)))
    return calls


@settings(FUZZ, max_examples=200)
@given(st.data(), tool_sets, choices)
def test_parse_reply_on_calls_with_edgy_arguments_returns_only_sound_calls(data, tools, choice):
    text = data.draw(written_calls(data.draw(plausible_calls(tools))))
    assert_reply_is_sound(text, tools, choice)


# One schema of each kind the checker reads, each tried with its own value in every example.
CHECKED_SCHEMAS: list[dict[str, Any]] = [
    {"type": "number"},
    {"type": "integer"},
    {"type": "integer", "minimum": 1, "exclusiveMaximum": 50},
    {"type": ["integer", "null"]},
    {"type": ["string", "number"]},
    {"type": "boolean"},
    {"type": "string", "minLength": 1, "pattern": "^[a-z]"},
    {"enum": ["celsius", "fahrenheit", 3]},
    {"const": 3},
    {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
    {"oneOf": [{"type": "number", "maximum": 0}, {"type": "boolean"}]},
    {"allOf": [{"type": "number"}, {"minimum": 0}]},
    {"type": "array", "items": {"type": "number"}, "maxItems": 3},
    {"$ref": "#/$defs/point"},
    {"type": "object", "additionalProperties": {"type": "integer"}},
]
POINT = {
    "type": "object",
    "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
    "required": ["x", "y"],
}


@FUZZ
@given(st.lists(edge_values | argument_values, min_size=15, max_size=15))
def test_arguments_that_pass_the_check_pass_it_again_unchanged(values):
    for schema, value in zip(CHECKED_SCHEMAS, values, strict=True):
        parameters = {"type": "object", "properties": {"v": schema}, "$defs": {"point": POINT}}
        checked, problems = check_arguments(parameters, {"v": value})
        if not problems:
            assert check_arguments(parameters, checked) == (checked, []), schema


@FUZZ
@given(st.text(max_size=40) | model_text)
def test_json_spans_are_in_bounds_and_in_order(text):
    position = 0
    spans = find_json_spans(text)
    for index, span in enumerate(spans):
        assert position <= span.start < span.end <= len(text)
        assert text[span.start] in "{["
        if span.closed:
            assert text[span.end - 1] in "}]"
        else:
            assert index == len(spans) - 1
            assert span.end == len(text)
        position = span.end


@FUZZ
@given(st.text(max_size=40) | model_text)
def test_loads_lenient_raises_only_value_error(text):
    # ValueError only, also for JSON nested too deeply (the parser reports it to the model).
    with contextlib.suppress(ValueError):
        loads_lenient(text)


@FUZZ
@given(comparable_json, st.sampled_from(["json", "ascii", "python", "trailing-comma"]))
def test_loads_lenient_reads_json_and_its_unambiguous_repairs_exactly(value, style):
    if style == "python":
        text = single_quoted(value)
    elif style == "trailing-comma":
        text = "[" + json.dumps(value, ensure_ascii=True) + ",]"  # \ud83d\udc4b escapes
        value = [value]
    else:
        text = json.dumps(value, ensure_ascii=style == "ascii")
    # Compared as values, not as JSON text: json.dumps writes a lone surrogate pair and the
    # character it stands for alike.
    assert loads_lenient(text) == value


@FUZZ
@given(
    st.lists(
        tricky_text | st.text(max_size=6) | st.sampled_from(["`", "``", "<tool", "_ca", "[ ", "{"])
    ),
    st.booleans(),
)
def test_prose_splitter_shows_plus_holds_exactly_the_text_and_shows_no_call_opening(pieces, hold):
    splitter = ProseSplitter(hold_everything=hold)
    shown = "".join(splitter.feed(piece) for piece in pieces)
    text = "".join(pieces)
    assert shown + splitter.held() == text
    assert re.search(r"```|<tool_call|\{|\[\s*\{", shown) is None
    if hold:
        assert shown == ""
    else:
        # However the text was cut into deltas, the same prose is shown.
        whole = ProseSplitter()
        assert whole.feed(text) == shown
