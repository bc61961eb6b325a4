"""What a caller declares (tools, a tool choice) and what a reply may hold (tool calls)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Tool",
    "ToolCall",
    "ToolChoice",
    "ToolResult",
    "new_call_id",
    "normalize_tool_choice",
    "to_tool",
]

# "auto", "required" (or "any"): at least one call, "none", or the name of the one tool to call.
ToolChoice = str
_CHOICE_SYNONYMS = {"any": "required"}
_NAME = re.compile(r"^[^\s\"]{1,128}$")


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool the model may call: its name, what it does, and the JSON schema of its arguments."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )

    def __post_init__(self) -> None:
        """Refuse names and schemas that cannot be offered in the prompt."""
        if not _NAME.match(self.name):
            msg = (
                f"tool name {self.name!r} cannot be carried in the prompt; use 1-128 characters"
                " without spaces or quotes, such as 'get_weather'."
            )
            raise ValueError(msg)
        if self.parameters.get("type", "object") != "object":
            msg = (
                f"tool {self.name!r}: parameters must be a JSON schema of an object (the named"
                f" arguments), not of type {self.parameters.get('type')!r}."
            )
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call the model asked for, with arguments checked against the tool's schema."""

    id: str
    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool returned (or the error it raised) for one call.

    ``call`` names the call for the model: its place among the calls of its turn (``"2"``).
    """

    call: str
    name: str
    content: str
    is_error: bool = False


def new_call_id() -> str:
    """A fresh call id; the model's own ids (if any) are not trusted to be unique."""
    return f"call_{os.urandom(12).hex()}"


def normalize_tool_choice(choice: ToolChoice | None, tools: tuple[Tool, ...]) -> str:
    """``"auto"``, ``"required"``, ``"none"`` or the name of one of ``tools``.

    Raises:
        ValueError: for a name that is not among ``tools``, or a choice that needs tools
            when there are none.
    """
    value = _CHOICE_SYNONYMS.get(choice or "auto", choice or "auto")
    if value in ("auto", "none"):
        return value
    if not tools:
        msg = f"tool_choice={choice!r} needs tools; pass tools or use tool_choice='auto'."
        raise ValueError(msg)
    if value == "required" or any(tool.name == value for tool in tools):
        return value
    names = ", ".join(repr(tool.name) for tool in tools)
    msg = (
        f"tool_choice={choice!r} names no tool given; use one of {names},"
        " or 'auto', 'required' or 'none'."
    )
    raise ValueError(msg)


def to_tool(tool: Tool | Mapping[str, Any], index: int) -> Tool:
    """``tool`` as a :class:`Tool`, from a dict with ``name``, ``description``, ``parameters``.

    Raises:
        TypeError: anything else; ``index`` says which of the caller's tools it was.
    """
    if isinstance(tool, Tool):
        return tool
    if isinstance(tool, Mapping) and isinstance(tool.get("name"), str):
        parameters = tool.get("parameters") or {"type": "object", "properties": {}}
        return Tool(str(tool["name"]), str(tool.get("description") or ""), dict(parameters))
    msg = (
        f"tools[{index}] is {tool!r}; pass a Tool or a dict with 'name', 'description' and"
        " 'parameters' (the JSON schema of its arguments)."
    )
    raise TypeError(msg)
