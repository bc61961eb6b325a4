"""The generic tool format: how tools, earlier calls and their results are written into a chat.

The playground takes no client-defined tools, so the tools and the answer format go into the
system prompt. Families with a format of their own get theirs (``offerings``); every other model
is asked to answer a call as one JSON object::

    {"tool_calls": [{"name": "get_weather", "arguments": {"location": "Paris"}}]}

One JSON shape for one or many calls keeps the instruction short, and the same shape is used when
earlier calls are written back into the history, so the model sees its own past turns in the format
it was asked for. Results come back as a user turn whose blocks start with
``Tool result for <tool> (call <n>):``, ``n`` being the call's place in the turn that made it.

The rule for *when* to call (the tool choice) and the correction request are shared by every
family's format.
"""

from __future__ import annotations

import json
from string import Template
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from langchain_cloudflare_playground.client.tools.spec import Tool, ToolCall, ToolResult

__all__ = [
    "CORRECTION_PREFIX",
    "GENERIC_RESULTS_NOTE",
    "GENERIC_SECTION",
    "correction_request",
    "describe_tools",
    "render_tool_calls",
    "render_tool_results",
    "when_to_call",
    "with_calls",
]

CORRECTION_PREFIX = "Your last reply could not be used:"

# $tools: the tools as ``describe_tools`` lists them; $rules: the results note, then when to call.
GENERIC_SECTION = Template(
    "# Tools\n\n"
    "You can call the tools below. Each is listed with what it does and the JSON schema of"
    " its arguments.\n\n"
    "$tools\n\n"
    "# How to call tools\n\n"
    "To call tools, reply with only a JSON object in this form, with nothing before or after"
    " it:\n"
    '{"tool_calls": [{"name": "<tool name>", "arguments": {"<argument name>": <value>}}]}\n'
    "List several calls to have them run together. Use only the tools and arguments listed"
    " above. $rules"
)
GENERIC_RESULTS_NOTE = (
    'Each result comes back in a message that starts with "Tool result" (or "Tool error" when'
    " the tool failed); then answer from it."
)


def when_to_call(choice: str) -> str:
    """The sentence that says when to call: the tool choice, in words."""
    if choice == "required":
        return "You must call at least one tool now."
    if choice != "auto":
        return f'You must call the tool "{choice}" now.'
    return "Call a tool only when it helps to answer; otherwise answer in plain text."


def describe_tools(tools: Sequence[Tool]) -> str:
    """Each tool under its own heading, with its description and its arguments' JSON schema."""
    return "\n\n".join(_describe(tool) for tool in tools)


def render_tool_calls(text: str, calls: Iterable[ToolCall]) -> str:
    """An earlier assistant turn that called tools, as the model was asked to write it."""
    payload = {"tool_calls": [{"name": c.name, "arguments": dict(c.arguments)} for c in calls]}
    return with_calls(text, json.dumps(payload, ensure_ascii=False))


def with_calls(text: str, calls: str) -> str:
    """An assistant turn's text, then its calls as written, on a line of their own."""
    return f"{text.rstrip()}\n{calls}" if text.strip() else calls


def render_tool_results(results: Iterable[ToolResult]) -> str:
    """One user turn carrying the results of one or more calls."""
    blocks = []
    for result in results:
        kind = "Tool error" if result.is_error else "Tool result"
        blocks.append(f"{kind} for {result.name} (call {result.call}):\n{result.content}")
    return "\n\n".join(blocks)


def correction_request(problem: str) -> str:
    """The user turn that asks the model to fix a reply that could not be used."""
    return (
        f"{CORRECTION_PREFIX} {problem} Reply again, either with only the corrected tool calls,"
        " written as you were asked to write calls, or with a plain-text answer."
    )


def _describe(tool: Tool) -> str:
    schema = json.dumps(_as_mapping(tool.parameters), ensure_ascii=False, sort_keys=False)
    description = tool.description.strip()
    lines = [f"## {tool.name}", *([description] if description else [])]
    return "\n".join([*lines, f"Arguments JSON schema: {schema}"])


def _as_mapping(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)
