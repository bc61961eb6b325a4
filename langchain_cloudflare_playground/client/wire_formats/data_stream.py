"""The AI SDK v4 data stream (the playground, 2025-03 to 2025-10), one ``<prefix>:<JSON>`` per line.

``0`` text, ``g`` reasoning, ``3`` error, ``e`` finish step, ``d`` finish message. Other prefixes
(tool calls, sources, annotations) carry nothing this client shows and are skipped, as the
protocol asks: a new prefix must never break an old client.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.client.errors import PlaygroundProtocolError, make_stream_error
from langchain_cloudflare_playground.client.events import (
    Finish,
    ReasoningDelta,
    TextDelta,
    Usage,
    add_usage,
)
from langchain_cloudflare_playground.client.wire_formats.base import ChatRequest, parse_json_frame

if TYPE_CHECKING:
    from langchain_cloudflare_playground.client.events import ChatEvent

__all__ = ["DataStreamDecoder", "encode_data_stream_request", "looks_like_data_stream"]

_PREFIXED_LINE = re.compile(r"([0-9a-z]):(.*)", re.DOTALL)
# A text line whose JSON string has no escape is its own content (JSON forbids raw quotes,
# backslashes and control characters in it): nearly every line of a reply, read without a parse.
_plain_text_line = re.compile(r'0:"([^"\\\x00-\x1f]+)"').fullmatch


def encode_data_stream_request(request: ChatRequest) -> dict[str, object]:
    """Build the data stream's JSON body: messages with ``parts``, the system prompt on its own."""
    messages = [
        {"role": m.role, "content": m.content, "parts": [{"type": "text", "text": m.content}]}
        for m in request.conversation.turns
    ]
    body: dict[str, object] = {
        "messages": messages,
        "lora": None,
        "model": request.model,
        "max_tokens": request.max_tokens,
        "stream": True,
    }
    if request.conversation.system is not None:
        body["system_message"] = request.conversation.system
    body["tools"] = []
    if request.temperature is not None:
        body["temperature"] = request.temperature
    return body


def looks_like_data_stream(line: str) -> bool:
    """Tell from the first non-empty line whether a response is a data stream."""
    return _PREFIXED_LINE.fullmatch(line) is not None


class DataStreamDecoder:
    """Decodes the lines of a data stream."""

    def __init__(self, model: str) -> None:
        """Decode a reply from ``model``."""
        self._model = model
        self._step_usage: Usage | None = None
        self._step_reason: str | None = None
        self._done = False

    @property
    def done(self) -> bool:
        """Whether the finish-message line (``d:``) has arrived."""
        return self._done

    def feed_lines(self, lines: list[str], into: list[ChatEvent]) -> None:
        """:meth:`feed` each line in turn until the reply is done, adding the events to ``into``."""
        # One loop over a read's lines, the plain text line decoded in it: a reply is nearly all
        # such lines, and a call and a list for each cost more than decoding it.
        append = into.append
        for line in lines:
            if self._done:
                return
            plain = _plain_text_line(line)
            if plain is not None:
                append(TextDelta(plain[1]))
            elif line:
                into += self.feed(line)

    def feed(self, line: str) -> list[ChatEvent]:  # noqa: PLR0911 (one return per prefix)
        """Decode one line."""
        if not line or self._done:
            return []
        plain = _plain_text_line(line)
        if plain is not None:
            return [TextDelta(plain[1])]
        match = _PREFIXED_LINE.fullmatch(line)
        if match is None:
            msg = f"malformed data-stream line from the server: {line[:120]!r}"
            raise PlaygroundProtocolError(msg)
        prefix, payload = match.groups()
        if prefix not in "03egd":
            return []
        value = parse_json_frame(payload, f"data-stream {prefix!r}")
        if prefix == "0":
            return [TextDelta(value)] if isinstance(value, str) and value else []
        if prefix == "g":
            return [ReasoningDelta(value)] if isinstance(value, str) and value else []
        if prefix == "3":
            raise make_stream_error(str(value) if value else "the server reported an error")
        if not isinstance(value, dict):
            return []
        reason = value.get("finishReason")
        usage = _usage_from(value.get("usage"))
        if prefix == "e":
            self._step_reason = reason if isinstance(reason, str) else self._step_reason
            self._step_usage = add_usage(self._step_usage, usage)
            return []
        self._done = True
        return [
            Finish(
                reason if isinstance(reason, str) else self._step_reason,
                usage or self._step_usage,
                self._model,
            )
        ]


def _usage_from(usage: object) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("promptTokens"), usage.get("completionTokens")
    # The AI SDK sends NaN for counts a provider did not report; json.loads reads it as a float.
    if isinstance(prompt, int) and isinstance(completion, int):
        return Usage(prompt, completion)
    return None
