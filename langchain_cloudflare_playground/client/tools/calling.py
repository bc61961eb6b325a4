"""Tool calling over plain chat: prompt, stream, parse, and ask once for a fix when needed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.client.errors import PlaygroundProtocolError
from langchain_cloudflare_playground.client.events import (
    ChatEvent,
    Finish,
    ReasoningDelta,
    TextDelta,
    Usage,
    add_usage,
)
from langchain_cloudflare_playground.client.messages import Conversation, Message
from langchain_cloudflare_playground.client.tools.parser import ParsedReply, parse_reply
from langchain_cloudflare_playground.client.tools.prompt import correction_request
from langchain_cloudflare_playground.client.tools.prose_splitter import ProseSplitter

if TYPE_CHECKING:
    from langchain_cloudflare_playground.client.tools.spec import Tool

__all__ = ["stream_with_tools"]

SendConversation = Callable[[Conversation], AsyncGenerator[list[ChatEvent], None]]


async def stream_with_tools(
    send: SendConversation,
    conversation: Conversation,
    tools: Sequence[Tool],
    choice: str,
    *,
    corrections: int = 1,
) -> AsyncGenerator[list[ChatEvent], None]:
    """Stream a reply to ``conversation`` (tools already offered in it) as batches of events.

    Each batch read gives one batch on (or none, while everything is held): a piece of text
    the model sent stays one event, as far as the splitter shows it. The last batch holds what
    was held back, read at the end (the calls, or the text as it came), and the finish.

    Prose streams as :class:`TextDelta`; a reply that holds calls ends with one
    :class:`~langchain_cloudflare_playground.client.tools.ToolCall` per call, then a
    :class:`Finish` with reason ``"tool_calls"``. A reply that cannot be used (an unknown tool,
    arguments that do not fit, no call where one is required) is sent back to the model with the
    reason, at most ``corrections`` times; after that its text is returned as it is, and the
    reason is in ``Finish.tool_call_problem``.
    """
    usage: Usage | None = None
    reconnects = 0
    for attempt in range(corrections + 1):
        # With a call required there is no prose to show: hold it all for the parser.
        splitter = ProseSplitter(hold_everything=choice not in ("auto", "none"))
        shown: list[str] = []
        finish: Finish | None = None
        # Closed at once when the caller stops reading, not when collected: it holds a connection.
        async with contextlib.aclosing(send(conversation)) as batches:
            async for batch in batches:
                passed_on, finish = _passed_on(batch, splitter, shown, finish)
                if passed_on:
                    yield passed_on
        if finish is None:  # every transport ends a stream with a Finish or an error
            msg = "the stream ended without a finish event"
            raise PlaygroundProtocolError(msg)
        usage = add_usage(usage, finish.usage)
        reconnects += finish.reconnects
        held = splitter.held()
        parsed = parse_reply(held, tools, choice)
        if parsed.problem is not None and attempt < corrections:
            reply = "".join(shown) + held
            conversation = replace(
                conversation,
                turns=(
                    *conversation.turns,
                    Message("assistant", reply),
                    Message("user", correction_request(parsed.problem)),
                ),
            )
            continue
        yield [
            *_closing_events(parsed, shown, held),
            replace(
                finish,
                reason="tool_calls" if parsed.calls else finish.reason,
                usage=usage,
                tool_call_problem=parsed.problem,
                reconnects=reconnects,
            ),
        ]
        return


def _passed_on(
    batch: list[ChatEvent], splitter: ProseSplitter, shown: list[str], finish: Finish | None
) -> tuple[list[ChatEvent], Finish | None]:
    """What of ``batch`` is shown now (prose, reasoning), and the reply's ``Finish`` so far.

    Text the splitter holds as a possible call stays behind; what it lets through is noted in
    ``shown``.
    """
    passed_on: list[ChatEvent] = []
    for event in batch:
        if isinstance(event, TextDelta):
            prose = splitter.feed(event.text)
            if prose:
                shown.append(prose)
                passed_on.append(TextDelta(prose))
        elif isinstance(event, ReasoningDelta):
            passed_on.append(event)
        elif isinstance(event, Finish):
            finish = event
    return passed_on, finish


def _closing_events(parsed: ParsedReply, shown: list[str], held: str) -> list[ChatEvent]:
    """The held part of a reply, once read: its calls, or its text exactly as it came."""
    if not parsed.calls:
        return [TextDelta(held)] if held else []
    events: list[ChatEvent] = []
    if parsed.text:
        # Prose after the calls; keep it apart from the prose already shown.
        apart = shown and not shown[-1][-1:].isspace()
        events.append(TextDelta(f"\n{parsed.text}" if apart else parsed.text))
    events.extend(parsed.calls)
    return events
