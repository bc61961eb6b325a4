"""How tools, earlier calls and their results are written into a plain-text chat.

The playground takes no client-defined tools, so the tools and the answer format go into the
system prompt, and the model answers a call as one JSON object::

    {"tool_calls": [{"name": "get_weather", "arguments": {"location": "Paris"}}]}

One JSON shape for one or many calls keeps the instruction short, and the same shape is used when
earlier calls are written back into the history, so the model sees its own past turns in the format
it was asked for. Results come back as a user turn whose blocks start with
``Tool result for <tool> (call <n>):``, ``n`` being the call's place in the turn that made it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from langchain_cloudflare_playground.client.tools.spec import Tool, ToolCall

__all__ = [
    "CORRECTION_PREFIX",
    "ToolResult",
    "correction_request",
    "render_tool_calls",
    "render_tool_results",
    "tools_prompt",
]

CORRECTION_PREFIX = "Your last reply could not be used:"
_CALL_FORMAT = (
    '{"tool_calls": [{"name": "<tool name>", "arguments": {"<argument name>": <value>}}]}'
)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool returned (or the error it raised) for one call.

    ``call`` names the call for the model: its place among the calls of its turn (``"2"``).
    """

    call: str
    name: str
    content: str
    is_error: bool = False


def tools_prompt(tools: Sequence[Tool], choice: str) -> str:
    """The system-prompt section that lists ``tools`` and says how and when to call them."""
    listed = "\n\n".join(_describe(tool) for tool in tools)
    if choice == "required":
        when = "You must call at least one tool now."
    elif choice != "auto":
        when = f'You must call the tool "{choice}" now.'
    else:
        when = "Call a tool only when it helps to answer; otherwise answer in plain text."
    return (
        "# Tools\n\n"
        "You can call the tools below. Each is listed with what it does and the JSON schema of"
        " its arguments.\n\n"
        f"{listed}\n\n"
        "# How to call tools\n\n"
        "To call tools, reply with only a JSON object in this form, with nothing before or after"
        f" it:\n{_CALL_FORMAT}\n"
        "List several calls to have them run together. Use only the tools and arguments listed"
        ' above. Each result comes back in a message that starts with "Tool result" (or'
        ' "Tool error" when the tool failed); then answer from it.\n'
        f"{when}"
    )


def render_tool_calls(text: str, calls: Iterable[ToolCall]) -> str:
    """An earlier assistant turn that called tools, as the model was asked to write it."""
    payload = {"tool_calls": [{"name": c.name, "arguments": dict(c.arguments)} for c in calls]}
    call_line = json.dumps(payload, ensure_ascii=False)
    return f"{text.rstrip()}\n{call_line}" if text.strip() else call_line


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
        f"{CORRECTION_PREFIX} {problem} Reply again, either with only the JSON object of"
        " corrected tool calls, or with a plain-text answer."
    )


def _describe(tool: Tool) -> str:
    schema = json.dumps(_as_mapping(tool.parameters), ensure_ascii=False, sort_keys=False)
    description = tool.description.strip()
    lines = [f"## {tool.name}", *([description] if description else [])]
    return "\n".join([*lines, f"Arguments JSON schema: {schema}"])


def _as_mapping(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)
