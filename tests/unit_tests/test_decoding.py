"""Decoders must give the same events however the byte stream is split."""

from __future__ import annotations

import json

import pytest

from langchain_cloudflare_playground.client.errors import (
    PlaygroundAPIError,
    PlaygroundProtocolError,
    RateLimitError,
)
from langchain_cloudflare_playground.client.events import (
    ChatEvent,
    Finish,
    ReasoningDelta,
    TextDelta,
    Usage,
)
from langchain_cloudflare_playground.client.wire_formats import (
    HttpWireFormat,
    LineDecoder,
    detect_http_wire_format,
)

MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"

SSE_STREAM = (
    'data: {"response":"Hé"}\r\n\r\n'
    'data: {"response":"llo 👋"}\r\n\r\n'
    'data: {"response":"\\n"}\r\n\r\n'
    'data: {"response":"\\n"}\r\n\r\n'
    'data: {"response":"</s>"}\r\n\r\n'
    'data: {"response":"","usage":{"prompt_tokens":5,"completion_tokens":4,"total_tokens":9}}'
    "\r\n\r\ndata: [DONE]\r\n\r\n"
).encode()
SSE_EVENTS = [
    TextDelta("Hé"),
    TextDelta("llo 👋"),
    TextDelta("\n"),
    TextDelta("\n"),
    Finish("stop", Usage(5, 4), MODEL),
]

DATA_STREAM = (
    'f:{"messageId":"msg-1"}\r'
    'g:"Thinking é"\r'
    '0:"Hello"\r'
    '0:" 世界\\n"\r'
    '0:" 世界\\n"\r'
    '8:[{"annotation":1}]\r'
    'e:{"finishReason":"stop","usage":{"promptTokens":12,"completionTokens":3},"isContinued":false}\r'
    'd:{"finishReason":"stop","usage":{"promptTokens":12,"completionTokens":3}}\r'
).encode()
DATA_STREAM_EVENTS = [
    ReasoningDelta("Thinking é"),
    TextDelta("Hello"),
    TextDelta(" 世界\n"),
    TextDelta(" 世界\n"),
    Finish("stop", Usage(12, 3), MODEL),
]


def decode(pieces: list[bytes]) -> list[object]:
    lines = LineDecoder()
    decoder = None
    events: list[object] = []
    all_lines = [line for piece in pieces for line in lines.feed(piece)] + lines.finish()
    for line in all_lines:
        if decoder is None:
            if not line.strip():
                continue
            decoder = detect_http_wire_format(line).decoder(MODEL)
        events.extend(decoder.feed(line))
    assert decoder is not None
    assert decoder.done
    return events


@pytest.mark.parametrize(
    ("stream", "expected"),
    [(SSE_STREAM, SSE_EVENTS), (DATA_STREAM, DATA_STREAM_EVENTS)],
    ids=["sse", "data-stream"],
)
def test_every_two_way_split_decodes_the_same(stream, expected):
    # Covers a CRLF split between reads and every multi-byte character split between reads.
    for cut in range(len(stream) + 1):
        assert decode([stream[:cut], stream[cut:]]) == expected, cut


@pytest.mark.parametrize(
    ("stream", "expected"),
    [(SSE_STREAM, SSE_EVENTS), (DATA_STREAM, DATA_STREAM_EVENTS)],
    ids=["sse", "data-stream"],
)
def test_byte_by_byte_decodes_the_same(stream, expected):
    assert decode([stream[i : i + 1] for i in range(len(stream))]) == expected


def test_three_way_splits_around_a_crlf_and_a_four_byte_character():
    stream = SSE_STREAM
    emoji = stream.index("👋".encode())
    crlf = stream.index(b"\r\n")
    for first in range(crlf - 1, crlf + 2):
        for second in range(emoji, emoji + 5):
            pieces = [stream[:first], stream[first:second], stream[second:]]
            assert decode(pieces) == SSE_EVENTS


def test_a_line_longer_than_any_read_buffer():
    text = "x" * 1_000_003 + "é"
    stream = (
        "0:" + json.dumps(text, ensure_ascii=False) + '\nd:{"finishReason":"stop"}\n'
    ).encode()
    pieces = [stream[i : i + 65_536] for i in range(0, len(stream), 65_536)]
    assert decode(pieces) == [TextDelta(text), Finish("stop", None, MODEL)]


def test_bare_cr_lines_are_delivered_without_waiting_for_the_next_line_break():
    decoder = LineDecoder()
    assert decoder.feed(b'0:"a"\r') == []  # might still be the first half of a CRLF
    assert decoder.feed(b'0:"b"') == ['0:"a"']  # it was not: the line is complete
    assert decoder.feed(b"\r\n") == ['0:"b"']


def test_line_decoder_keeps_unicode_line_separators_inside_lines():
    decoder = LineDecoder()
    assert decoder.feed('0:"a\u2028b\u0085c"\n'.encode()) == ['0:"a\u2028b\u0085c"']


def test_line_decoder_reports_invalid_utf8_as_a_protocol_error():
    decoder = LineDecoder()
    # The lines before the bad bytes come first; the error with the next read, or the end.
    assert decoder.feed(b'0:"fine"\n0:"\xff\xfe"\n') == ['0:"fine"']
    with pytest.raises(PlaygroundProtocolError, match="not valid UTF-8"):
        decoder.feed(b"more")
    with pytest.raises(PlaygroundProtocolError, match="not valid UTF-8"):
        decoder.finish()


def test_garbage_after_the_end_marker_in_the_same_read_spoils_nothing():
    decoder = LineDecoder()
    assert decoder.feed(b'0:"a"\nd:{"finishReason":"stop"}\n\xff\xfe') == [
        '0:"a"',
        'd:{"finishReason":"stop"}',
    ]


def test_line_decoder_reports_a_stream_cut_inside_a_character():
    decoder = LineDecoder()
    decoder.feed('0:"é'.encode()[:-1])
    with pytest.raises(PlaygroundProtocolError, match="middle of a UTF-8 character"):
        decoder.finish()


def test_finish_without_usage_does_not_crash():
    decoder = HttpWireFormat.DATA_STREAM.decoder(MODEL)
    assert decoder.feed('d:{"finishReason":"length"}') == [Finish("length", None, MODEL)]


def test_usage_falls_back_to_the_sum_of_steps():
    decoder = HttpWireFormat.DATA_STREAM.decoder(MODEL)
    step = '{"finishReason":"tool-calls","usage":{"promptTokens":%d,"completionTokens":%d}}'
    assert decoder.feed("e:" + step % (10, 2)) == []
    assert decoder.feed("e:" + step % (15, 3)) == []
    assert decoder.feed('d:{"finishReason":"stop"}') == [Finish("stop", Usage(25, 5), MODEL)]


def test_unknown_prefixes_are_ignored():
    decoder = HttpWireFormat.DATA_STREAM.decoder(MODEL)
    assert decoder.feed('z:{"future":"thing"}') == []
    assert decoder.feed('9:{"toolCallId":"1"}') == []
    assert decoder.feed('0:"ok"') == [TextDelta("ok")]


def test_error_line_raises_with_the_server_message():
    decoder = HttpWireFormat.DATA_STREAM.decoder(MODEL)
    with pytest.raises(PlaygroundAPIError, match="5007: No such model") as info:
        decoder.feed('3:"5007: No such model"')
    assert info.value.status is None
    assert not isinstance(info.value, RateLimitError)


def test_rate_limit_error_line_maps_to_rate_limit_error():
    decoder = HttpWireFormat.DATA_STREAM.decoder(MODEL)
    with pytest.raises(RateLimitError, match="3021"):
        decoder.feed('3:"3021: rate limiting, try again later"')


def test_sse_error_event_raises():
    decoder = HttpWireFormat.SSE.decoder(MODEL)
    with pytest.raises(PlaygroundAPIError, match="model overloaded"):
        decoder.feed('data: {"error":"model overloaded"}')


@pytest.mark.parametrize("line", ['0:"unterminated', "0:{broken", "not a frame at all"])
def test_malformed_data_stream_lines_raise_protocol_errors(line):
    decoder = HttpWireFormat.DATA_STREAM.decoder(MODEL)
    with pytest.raises(PlaygroundProtocolError, match="malformed"):
        decoder.feed(line)


def test_malformed_sse_json_raises_a_protocol_error():
    with pytest.raises(PlaygroundProtocolError, match="malformed server-sent event"):
        HttpWireFormat.SSE.decoder(MODEL).feed("data: {nope")


def test_sse_without_blank_lines_still_streams_each_line():
    decoder = HttpWireFormat.SSE.decoder(MODEL)
    assert decoder.feed('data: {"response":"a"}') == [TextDelta("a")]
    assert decoder.feed('data:{"response":"b"}') == [TextDelta("b")]


@pytest.mark.parametrize(
    ("line", "wire_format"),
    [
        ('data: {"response":"x"}', HttpWireFormat.SSE),
        (": keep-alive", HttpWireFormat.SSE),
        ("event: message", HttpWireFormat.SSE),
        ('f:{"messageId":"m"}', HttpWireFormat.DATA_STREAM),
        ('0:"x"', HttpWireFormat.DATA_STREAM),
    ],
)
def test_wire_format_detection(line, wire_format):
    assert detect_http_wire_format(line) is wire_format


def test_html_where_a_stream_was_expected_is_named():
    with pytest.raises(PlaygroundProtocolError, match="neither server-sent events"):
        detect_http_wire_format("<!DOCTYPE html><html>")


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "t12 ",
        "é ü 中文 🎉",
        'say "hi"',
        "back\\slash",
        "tab\there",
        "nbsp\u00a0x",
        "line\u2028sep",
        "\x7f",
        " ",
        "a" * 5000,
    ],
)
def test_the_plain_text_shortcuts_agree_with_json(text):
    # Most text lines skip json.loads; where a shortcut answers, it must say the same.
    from langchain_cloudflare_playground.client.wire_formats.data_stream import (
        DataStreamDecoder,
        _plain_text_line,
    )
    from langchain_cloudflare_playground.client.wire_formats.sse import SseDecoder, _plain_line

    for ascii_only in (True, False):
        line = f"0:{json.dumps(text, ensure_ascii=ascii_only)}"
        shortcut = _plain_text_line(line)
        assert shortcut is None or shortcut[1] == text
        assert DataStreamDecoder("m").feed(line) == [TextDelta(text)]
        events: list[ChatEvent] = []
        DataStreamDecoder("m").feed_lines([line], events)
        assert events == [TextDelta(text)]
        for spacing in ((",", ":"), (", ", ": ")):
            event = json.dumps({"response": text}, ensure_ascii=ascii_only, separators=spacing)
            line = f"data: {event}"
            shortcut = _plain_line(line)
            assert shortcut is None or shortcut[1] == text
            assert SseDecoder("m").feed(line) == [TextDelta(text)]
            events = []
            SseDecoder("m").feed_lines([line, ""], events)
            assert events == [TextDelta(text)]
