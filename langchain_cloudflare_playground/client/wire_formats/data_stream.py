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
            text = _plain_text_delta(line)
            if text is not None:
                append(TextDelta(text))
            elif line:
                into += self.feed(line)

    def feed(self, line: str) -> list[ChatEvent]:  # noqa: PLR0911 (one return per prefix)
        """Decode one line."""
        if not line or self._done:
            return []
        text = _plain_text_delta(line)
        if text is not None:
            return [TextDelta(text)]
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


def _plain_text_delta(line: str) -> str | None:
    """The text of a ``0:"..."`` line with no escapes in it, without a JSON parse; else None.

    Nearly every line of a reply is one of these, and a JSON string with no backslash and no
    inner quote is its own content: the cheap path gives exactly what ``json.loads`` would.
    """
    if len(line) > 4 and line[:3] == '0:"' and line[-1] == '"':  # noqa: PLR2004 (0:"x")
        body = line[3:-1]
        if "\\" not in body and '"' not in body and body.isprintable():
            return body
    return None


def _usage_from(usage: object) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("promptTokens"), usage.get("completionTokens")
    # The AI SDK sends NaN for counts a provider did not report; json.loads reads it as a float.
    if isinstance(prompt, int) and isinstance(completion, int):
        return Usage(prompt, completion)
    return None
