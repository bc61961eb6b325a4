"""Server-sent events (the playground, 2024): ``POST /api/inference`` answered as an SSE stream.

Each ``data:`` line carries ``{"response": "<token>"}``; an empty response marks the stop, the
last event may carry ``usage``, and ``data: [DONE]`` ends the stream.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.client.errors import make_stream_error
from langchain_cloudflare_playground.client.events import Finish, TextDelta, Usage
from langchain_cloudflare_playground.client.wire_formats.base import ChatRequest, parse_json_frame

if TYPE_CHECKING:
    from langchain_cloudflare_playground.client.events import ChatEvent

__all__ = ["SseDecoder", "encode_sse_request", "looks_like_sse"]

# Old models end with this literal token; it is markup, not text.
_END_OF_SEQUENCE = "</s>"
_SSE_FIELDS = ("data:", "event:", "id:", "retry:", ":")
# The one-key event, compact or with json.dumps's default spacing, whose token has no escape:
# such a JSON string is its own content (JSON forbids raw quotes, backslashes and control
# characters in it), so the token needs no JSON parse.
_PLAIN_EVENT = r'\{"response": ?"([^"\\\x00-\x1f]+)"\}'
_plain_payload = re.compile(_PLAIN_EVENT).fullmatch
_plain_line = re.compile(f"data: {_PLAIN_EVENT}").fullmatch


def encode_sse_request(request: ChatRequest) -> dict[str, object]:
    """Build the SSE format's JSON body: the system prompt travels as the first message."""
    messages: list[dict[str, str]] = []
    if request.conversation.system is not None:
        messages.append({"role": "system", "content": request.conversation.system})
    messages.extend({"role": m.role, "content": m.content} for m in request.conversation.turns)
    body: dict[str, object] = {
        "messages": messages,
        "lora": None,
        "model": request.model,
        "max_tokens": request.max_tokens,
        "stream": True,
    }
    if request.temperature is not None:
        body["temperature"] = request.temperature
    return body


def looks_like_sse(line: str) -> bool:
    """Tell from the first non-empty line whether a response is server-sent events."""
    return line.startswith(_SSE_FIELDS)


class SseDecoder:
    """Decodes server-sent event lines.

    Each ``data:`` line is decoded as soon as it arrives, without waiting for the blank line that
    ends an SSE event: the playground puts one JSON object per line, and some of its servers send
    no blank lines at all.
    """

    def __init__(self, model: str) -> None:
        """Decode a reply from ``model``."""
        self._model = model
        self._usage: Usage | None = None
        self._stopped = False
        self._done = False

    @property
    def done(self) -> bool:
        """Whether ``[DONE]`` has arrived."""
        return self._done

    def feed_lines(self, lines: list[str], into: list[ChatEvent]) -> None:
        """:meth:`feed` each line in turn until the reply is done, adding the events to ``into``."""
        # One loop over a read's lines, the plain token event decoded in it: a reply is nearly
        # all such lines, and a call and a list for each cost more than decoding it.
        append = into.append
        for line in lines:
            if not line:
                continue  # the blank line that ends each event
            if self._done:
                return
            plain = _plain_line(line)
            if plain is not None:
                token = plain[1]
                if token != _END_OF_SEQUENCE:
                    append(TextDelta(token))
                continue
            into += self.feed(line)

    def feed(self, line: str) -> list[ChatEvent]:
        """Decode one line."""
        if not line.startswith("data:") or self._done:
            return []  # blank separators, comments, event names, ids: nothing to show
        payload = line[5:].removeprefix(" ")
        if payload == "[DONE]":
            self._done = True
            return [Finish("stop" if self._stopped else None, self._usage, self._model)]
        plain = _plain_payload(payload)
        if plain is not None:
            return [TextDelta(plain[1])] if plain[1] != _END_OF_SEQUENCE else []
        frame = parse_json_frame(payload, "server-sent event")
        if not isinstance(frame, dict):
            return []
        error = frame.get("error") or frame.get("errors")
        if error:
            raise make_stream_error(_error_text(error))
        usage = frame.get("usage")
        if isinstance(usage, dict):
            self._usage = _usage_from(usage)
        token = frame.get("response")
        if token == "":
            self._stopped = True
        if isinstance(token, str) and token and token != _END_OF_SEQUENCE:
            return [TextDelta(token)]
        return []


def _usage_from(usage: dict[str, object]) -> Usage | None:
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(completion, int):
        return Usage(prompt, completion)
    return None


def _error_text(error: object) -> str:
    if isinstance(error, list) and error:
        error = error[0]
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)
