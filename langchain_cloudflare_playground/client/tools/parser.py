"""Reading a model's reply as text or tool calls, tolerating how real models write calls.

Accepted call shapes, alone, in a list, fenced or with prose around them::

    {"tool_calls": [{"name": ..., "arguments": {...}}, ...]}     # the format we ask for
    {"name": ..., "arguments" | "parameters" | "args" | "input": {...}}
    {"function": {"name": ..., "arguments": "<JSON text>"}}        # OpenAI's shape
    <tool_call>{...}</tool_call>                                   # Hermes-style tags

and every family's native format (``native_formats``; Mistral, Llama, DeepSeek, Kimi, gpt-oss,
GLM, Qwen3-Coder, Gemma...), which models fall back to whatever the prompt asks for.

JSON that is not shaped like a call stays part of the text: a call is never invented. Reasoning
(``<think>...</think>``, Gemma 4's thought channel, harmony's analysis channel) is prose, even
where it drafts a call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.client.tools.call_shapes import RawCall, as_calls
from langchain_cloudflare_playground.client.tools.lenient_json import (
    find_json_spans,
    loads_lenient,
)
from langchain_cloudflare_playground.client.tools.native_formats import find_native_calls
from langchain_cloudflare_playground.client.tools.schema_check import check_arguments
from langchain_cloudflare_playground.client.tools.spec import Tool, ToolCall, new_call_id

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["ParsedReply", "parse_reply"]

# What is left of a fence or tag once the JSON inside it is taken out.
_WRAPPER_REMNANT = re.compile(r"```[\w-]*\s*```|<tool_call>\s*</tool_call>", re.IGNORECASE)
_ATTEMPT_HINT = re.compile(r"""["'](tool_calls|arguments|parameters)["']\s*:""")
# Reasoning written into the reply, (opening, closing, whether a reply may start inside it): a
# call drafted there is not made. Chat templates that open the reasoning themselves (Qwen 3.5+,
# Nemotron 3, GLM 4.7+ end their prompt with "<think>") have the reply start inside it, and
# the streaming splitter shows an opening in prose before it holds a call; either way a closing
# with no opening before it closes reasoning that began with the text. Harmony's <|end|> ends
# a message of any channel, so it alone proves nothing.
_REASONING = (
    ("<think>", "</think>", True),
    ("<|channel>thought", "<channel|>", True),  # Gemma 4
    ("<|channel|>analysis<|message|>", "<|end|>", False),
)


@dataclass(frozen=True, slots=True)
class ParsedReply:
    """A reply read for tool calls.

    Attributes:
        text: The reply's text, without the JSON of the calls (the whole reply when it holds
            no usable call).
        calls: The calls, with arguments checked against each tool's schema.
        problem: Why the reply could not be used as the tool choice asks, for the model to fix,
            or ``None``.
    """

    text: str
    calls: tuple[ToolCall, ...] = ()
    problem: str | None = None


def parse_reply(text: str, tools: Sequence[Tool], choice: str) -> ParsedReply:
    """Read ``text`` as tool calls and text, given the ``tools`` offered and the tool choice."""
    if choice == "none" or not tools:
        return ParsedReply(text)
    by_name = {tool.name: tool for tool in tools}
    raw_calls, kept_text, broken = _extract_calls(text, by_name)
    if broken and not raw_calls:
        return ParsedReply(text, problem=f"its JSON could not be read ({broken}).")
    problems: list[str] = []
    calls: list[ToolCall] = []
    for raw in raw_calls:
        tool = by_name.get(raw.name)
        if tool is None:
            offered = ", ".join(f'"{name}"' for name in by_name)
            problems.append(f'it calls "{raw.name}", which is not a tool here (tools: {offered}).')
            continue
        arguments, wrong = check_arguments(tool.parameters, raw.arguments)
        if wrong:
            problems.append(
                f'the arguments of "{raw.name}" do not fit its schema: {"; ".join(wrong)}.'
            )
            continue
        calls.append(ToolCall(new_call_id(), tool.name, arguments))
    if problems:
        return ParsedReply(text, problem=" ".join(problems))
    if not calls and choice != "auto":
        wanted = "at least one tool" if choice == "required" else f'the tool "{choice}"'
        return ParsedReply(text, problem=f"it calls no tool, but it must call {wanted}.")
    if choice not in ("auto", "required") and all(call.name != choice for call in calls):
        return ParsedReply(text, problem=f'it must call the tool "{choice}".')
    return ParsedReply(kept_text if calls else text, tuple(calls))


def _extract_calls(text: str, tools: Mapping[str, Tool]) -> tuple[list[RawCall], str, str | None]:
    """The calls in ``text``, the text around them, and why some call was unreadable.

    Native calls and reasoning are set apart first; the text between them is read as JSON.
    """
    reasoning = _reasoning_spans(text)
    marks: list[tuple[int, int, tuple[RawCall, ...], str | None]] = [
        (start, end, (), None) for start, end in reasoning
    ]
    marks.extend(
        (found.start, found.end, found.calls, found.broken)
        for found in find_native_calls(text, tools)
        if all(found.end <= start or end <= found.start for start, end in reasoning)
    )
    marks.sort()
    calls: list[RawCall] = []
    kept: list[str] = []
    broken: str | None = None
    position = 0
    for start, end, native_calls, native_broken in marks:
        if start < position:
            continue  # a native call inside reasoning already set apart
        gap_calls, gap_kept, gap_broken = _json_calls(text[position:start], tools)
        calls.extend(gap_calls)
        kept.append(gap_kept)
        broken = broken or gap_broken or native_broken
        calls.extend(native_calls)
        if not native_calls:
            kept.append(text[start:end])
        position = end
    gap_calls, gap_kept, gap_broken = _json_calls(text[position:], tools)
    calls.extend(gap_calls)
    kept.append(gap_kept)
    broken = broken or gap_broken
    return calls, _WRAPPER_REMNANT.sub("", "".join(kept)).strip(), broken


def _reasoning_spans(text: str) -> list[tuple[int, int]]:
    """Where ``text`` reasons, in order; an unclosed ``<think>`` is not reasoning yet.

    A model that goes from its reasoning straight to a call without closing the reasoning has
    the call read; a call followed by the reasoning's closing was a draft, and stays reasoning.
    """
    spans: list[tuple[int, int]] = []
    for opening, closing, may_start_inside in _REASONING:
        start = text.find(opening)
        first_close = text.find(closing)
        if may_start_inside and first_close >= 0 and (start < 0 or first_close < start):
            spans.append((0, first_close + len(closing)))
        while start >= 0:
            end = text.find(closing, start + len(opening))
            if end < 0:
                # The analysis channel ends where the reply does; an unclosed think is text.
                if closing == "<|end|>":
                    spans.append((start, len(text)))
                break
            spans.append((start, end + len(closing)))
            start = text.find(opening, end + len(closing))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _json_calls(text: str, tools: Mapping[str, Tool]) -> tuple[list[RawCall], str, str | None]:
    """The call-shaped JSON in ``text``, the text around it, and why some JSON was unreadable."""
    calls: list[RawCall] = []
    kept: list[str] = []
    broken: str | None = None
    position = 0
    for span in find_json_spans(text):
        fragment = text[span.start : span.end]
        found: list[RawCall] | None = None
        if span.closed:
            try:
                found = as_calls(loads_lenient(fragment), tools)
            except ValueError as exc:
                if _looks_like_attempt(fragment, tools):
                    broken = str(exc).split(":", 1)[0]
        elif _looks_like_attempt(fragment, tools):
            broken = "it never closes"
        if found:
            calls.extend(found)
            kept.append(text[position : span.start])
            position = span.end
    kept.append(text[position:])
    return calls, "".join(kept), broken


def _looks_like_attempt(fragment: str, tools: Mapping[str, Tool]) -> bool:
    """Whether unreadable JSON was meant as a call, so the model should be asked to fix it."""
    if _ATTEMPT_HINT.search(fragment):
        return True
    return any(f'"{name}"' in fragment or f"'{name}'" in fragment for name in tools)
