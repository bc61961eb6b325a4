"""The JSON shapes a call takes, shared by the generic reader and the native formats."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain_cloudflare_playground.client.tools.lenient_json import loads_lenient

__all__ = ["RawCall", "as_call", "as_calls"]

_NAME_KEYS = ("name", "tool", "tool_name")
_ARGUMENT_KEYS = ("arguments", "parameters", "args", "input")


@dataclass(frozen=True, slots=True)
class RawCall:
    """A call as written: a name and arguments not yet checked against any schema."""

    name: str
    arguments: object


def as_calls(value: object, tools: Mapping[str, object]) -> list[RawCall] | None:
    """``value`` read as one or more calls, or ``None`` when it is not shaped like calls."""
    if isinstance(value, list):
        items = [as_call(item, tools) for item in value]
        if not items or any(item is None for item in items):
            return None
        return [item for item in items if item is not None]
    if isinstance(value, Mapping) and isinstance(value.get("tool_calls"), list):
        return as_calls(value["tool_calls"], tools)
    call = as_call(value, tools)
    return [call] if call is not None else None


def as_call(value: object, tools: Mapping[str, object]) -> RawCall | None:
    """``value`` read as one call (``{"name": ..., "arguments": ...}`` and its variants)."""
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
        return RawCall(name, {}) if name in tools and not other_keys else None
    return RawCall(name, arguments_value(value[argument_key]))


def arguments_value(arguments: Any) -> object:  # noqa: ANN401 (any JSON value)
    """Arguments as written, with JSON text read (OpenAI's shape) and ``null`` as none."""
    if isinstance(arguments, str):
        try:
            return loads_lenient(arguments) if arguments.strip() else {}
        except ValueError:
            return arguments  # reported as arguments that are not an object
    return {} if arguments is None else arguments
