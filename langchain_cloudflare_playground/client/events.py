"""What a chat stream yields: typed events, the same for every wire format."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_cloudflare_playground.client.tools.spec import ToolCall

__all__ = [
    "ChatEvent",
    "ChatReply",
    "Finish",
    "ReasoningDelta",
    "TextDelta",
    "ToolCall",
    "Usage",
    "add_usage",
]


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the reply's text, in order. Empty deltas are never emitted."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of the model's reasoning, kept apart from the reply's text."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts, when the server reports them."""

    input_tokens: int
    output_tokens: int

    @property
    def total_tokens(self) -> int:
        """Input and output tokens together."""
        return self.input_tokens + self.output_tokens


def add_usage(total: Usage | None, more: Usage | None) -> Usage | None:
    """Token counts of two parts of a reply (steps, or a reply and its correction) together."""
    if total is None or more is None:
        return more or total
    return Usage(total.input_tokens + more.input_tokens, total.output_tokens + more.output_tokens)


@dataclass(frozen=True, slots=True)
class Finish:
    """The last event of every successful stream.

    Attributes:
        reason: Why the model stopped (``"stop"``, ``"length"``...), when the server said.
        usage: Token counts, when the server sent them.
        model: The full model id the request ran on.
        tool_call_problem: When tools were offered, why the reply could not be used as calls
            even after the model was asked to fix it (its text is then the reply).
        reconnects: How many times the connection dropped mid-reply and the reply was resumed
            in its room (over the Agents frames; always 0 for the HTTP wire formats).
    """

    reason: str | None
    usage: Usage | None
    model: str
    tool_call_problem: str | None = None
    reconnects: int = 0


# With tools, a reply's calls come as ToolCall events, after its text and before its Finish.
ChatEvent = TextDelta | ReasoningDelta | ToolCall | Finish


@dataclass(frozen=True, slots=True)
class ChatReply:
    """A whole reply, as returned by ``achat``/``chat``."""

    text: str
    reasoning: str
    finish_reason: str | None
    usage: Usage | None
    model: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_problem: str | None = None
