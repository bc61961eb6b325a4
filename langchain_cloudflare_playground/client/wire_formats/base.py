"""What every wire format's decoder implements, and what they share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from langchain_cloudflare_playground.client.errors import PlaygroundProtocolError

if TYPE_CHECKING:
    from langchain_cloudflare_playground.client.events import ChatEvent
    from langchain_cloudflare_playground.client.messages import Conversation

__all__ = ["ChatRequest", "StreamDecoder", "parse_json_frame"]


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """Everything a wire format needs to encode one chat request."""

    conversation: Conversation
    model: str
    max_tokens: int
    temperature: float | None


class StreamDecoder(Protocol):
    """Turns the lines (or frames) of one reply into events.

    ``feed`` returns the events a line completes; ``done`` turns true when the server has said the
    reply is complete. A stream that ends before that is truncated, and the transport says so.
    """

    @property
    def done(self) -> bool:
        """Whether the server marked the reply complete."""
        ...

    def feed(self, line: str) -> list[ChatEvent]:
        """Decode one line (or frame) into events."""
        ...

    def feed_lines(self, lines: list[str], into: list[ChatEvent]) -> None:
        """:meth:`feed` each line in turn until the reply is done, adding the events to ``into``.

        What the lines before a bad one decoded is in ``into`` when its error is raised.
        """
        ...


def parse_json_frame(payload: str, where: str) -> object:
    """Parse a frame's JSON, turning garbage into a protocol error that quotes it."""
    try:
        return json.loads(payload)
    except ValueError as exc:
        msg = f"malformed {where} frame from the server: {payload[:120]!r}"
        raise PlaygroundProtocolError(msg) from exc
    except RecursionError:
        # json.loads recurses once per level: a frame nested past the interpreter's limit is
        # garbage (no server nests that deep), not a reason to crash the caller.
        msg = f"{where} frame from the server is nested too deeply to read: {payload[:120]!r}"
        raise PlaygroundProtocolError(msg) from None
