"""Reading a model's reply as text or tool calls, tolerating how real models write calls.

Accepted call shapes, alone, in a list, fenced or with prose around them::

    {"tool_calls": [{"name": ..., "arguments": {...}}, ...]}     # the format we ask for
    {"name": ..., "arguments" | "parameters" | "args" | "input": {...}}
    {"function": {"name": ..., "arguments": "<JSON text>"}}        # OpenAI's shape
    <tool_call>{...}</tool_call>                                   # Hermes-style tags

JSON that is not shaped like a call stays part of the text: a call is never invented.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_cloudflare_playground.client.tools.lenient_json import (
    find_json_spans,
    loads_lenient,
)
from langchain_cloudflare_playground.client.tools.schema_check import check_arguments
from langchain_cloudflare_playground.client.tools.spec import Tool, ToolCall, new_call_id

__all__ = ["ParsedReply", "parse_reply"]

_NAME_KEYS = ("name", "tool", "tool_name")
_ARGUMENT_KEYS = ("arguments", "parameters", "args", "input")
# What is left of a fence or tag once the JSON inside it is taken out.
_WRAPPER_REMNANT = re.compile(r"```[\w-]*\s*```|<tool_call>\s*</tool_call>", re.IGNORECASE)
_ATTEMPT_HINT = re.compile(r"""["'](tool_calls|arguments|parameters)["']\s*:""")


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


@dataclass(frozen=True, slots=True)
class _RawCall:
    name: str
    arguments: object


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


def _extract_calls(text: str, tools: Mapping[str, Tool]) -> tuple[list[_RawCall], str, str | None]:
    """The call-shaped JSON in ``text``, the text around it, and why some JSON was unreadable."""
    calls: list[_RawCall] = []
    kept: list[str] = []
    broken: str | None = None
    position = 0
    for span in find_json_spans(text):
        fragment = text[span.start : span.end]
        found: list[_RawCall] | None = None
        if span.closed:
            try:
                found = _as_calls(loads_lenient(fragment), tools)
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
    return calls, _WRAPPER_REMNANT.sub("", "".join(kept)).strip(), broken


def _looks_like_attempt(fragment: str, tools: Mapping[str, Tool]) -> bool:
    """Whether unreadable JSON was meant as a call, so the model should be asked to fix it."""
    if _ATTEMPT_HINT.search(fragment):
        return True
    return any(f'"{name}"' in fragment or f"'{name}'" in fragment for name in tools)


def _as_calls(value: object, tools: Mapping[str, Tool]) -> list[_RawCall] | None:
    """``value`` read as one or more calls, or ``None`` when it is not shaped like calls."""
    if isinstance(value, list):
        items = [_as_call(item, tools) for item in value]
        if not items or any(item is None for item in items):
            return None
        return [item for item in items if item is not None]
    if isinstance(value, Mapping) and isinstance(value.get("tool_calls"), list):
        return _as_calls(value["tool_calls"], tools)
    call = _as_call(value, tools)
    return [call] if call is not None else None


def _as_call(value: object, tools: Mapping[str, Tool]) -> _RawCall | None:
    if not isinstance(value, Mapping):
        return None
    function = value.get("function")
    if isinstance(function, Mapping):
        value = function
    name = next((value[key] for key in _NAME_KEYS if isinstance(value.get(key), str)), None)
    if name is None:
        return None
    argument_key = next((key for key in _ARGUMENT_KEYS if key in value), None)
    if argument_key is None:
        # {"name": "x"} alone is a call only to a known tool: a name key is common in data.
        other_keys = set(value) - {*_NAME_KEYS, "id", "type"}
        return _RawCall(name, {}) if name in tools and not other_keys else None
    arguments: Any = value[argument_key]
    if isinstance(arguments, str):  # OpenAI sends arguments as JSON text
        try:
            arguments = loads_lenient(arguments) if arguments.strip() else {}
        except ValueError:
            return _RawCall(name, arguments)  # reported as arguments that are not an object
    if arguments is None:
        arguments = {}
    return _RawCall(name, arguments)
