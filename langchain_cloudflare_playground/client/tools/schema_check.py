"""Checking a model's arguments against a tool's JSON schema.

Covers what tool schemas use (types, ``properties``/``required``, ``enum``/``const``, ``items``,
bounds, ``anyOf``/``oneOf``/``allOf`` and local ``$ref``), and coerces only where a value has one
reading: ``"3"`` or ``3.0`` for an integer, ``"true"`` for a boolean. Keywords it does not know are
ignored rather than guessed at; the tool itself still validates what it receives.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["check_arguments"]

_INTEGER_TEXT = re.compile(r"^-?\d+$")
_NUMBER_TEXT = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_MAX_REF_DEPTH = 32


def check_arguments(
    schema: Mapping[str, Any], arguments: object
) -> tuple[dict[str, Any], list[str]]:
    """``arguments`` checked against ``schema``: the coerced arguments, and what is wrong.

    An empty list of problems means the arguments can be passed to the tool.
    """
    if not isinstance(arguments, Mapping):
        return {}, [f"arguments must be a JSON object, not {_kind(arguments)}"]
    problems: list[str] = []
    value = _Checker(schema, problems).check(schema, dict(arguments), "arguments", 0)
    return (value if isinstance(value, dict) else dict(arguments)), problems


class _Checker:
    def __init__(self, root: Mapping[str, Any], problems: list[str]) -> None:
        self._root = root
        self._problems = problems

    def check(self, schema: Mapping[str, Any], value: object, path: str, depth: int) -> object:
        if depth > _MAX_REF_DEPTH:
            return value
        if "$ref" in schema:
            schema = {**self._resolve(str(schema["$ref"])), **_without(schema, "$ref")}
            depth += 1
        options = schema.get("anyOf", schema.get("oneOf"))
        if isinstance(options, list):
            return self._first_match(options, value, path, depth)
        for part in schema.get("allOf", ()):
            value = self.check(part, value, path, depth + 1)
        if not self._allowed(schema, value, path):
            return value
        types = schema.get("type")
        if types is None:
            return value
        for name in [types] if isinstance(types, str) else list(types):
            coerced = _coerce(name, value)
            if coerced is not _NO_MATCH:
                return self._check_inside(name, schema, coerced, path, depth)
        expected = types if isinstance(types, str) else " or ".join(types)
        self._problems.append(f"{path}: expected {expected}, got {_kind(value)} {value!r}")
        return value

    def _allowed(self, schema: Mapping[str, Any], value: object, path: str) -> bool:
        if "const" in schema and value != schema["const"]:
            self._problems.append(f"{path}: must be {schema['const']!r}")
            return False
        if "enum" in schema and value not in schema["enum"]:
            options = ", ".join(repr(option) for option in schema["enum"])
            self._problems.append(f"{path}: {value!r} is not one of {options}")
            return False
        return True

    def _check_inside(
        self, kind: str, schema: Mapping[str, Any], value: object, path: str, depth: int
    ) -> object:
        if isinstance(value, dict):
            return self._check_object(schema, value, path, depth)
        if isinstance(value, list):
            items = schema.get("items")
            if isinstance(items, Mapping):
                value = [
                    self.check(items, item, f"{path}[{i}]", depth + 1)
                    for i, item in enumerate(value)
                ]
            self._bound(len(value), schema, ("minItems", "maxItems", "items"), path)
        elif isinstance(value, str):
            self._bound(len(value), schema, ("minLength", "maxLength", "characters"), path)
            pattern = schema.get("pattern")
            if isinstance(pattern, str) and re.search(pattern, value) is None:
                self._problems.append(f"{path}: {value!r} does not match {pattern!r}")
        elif kind in ("integer", "number") and isinstance(value, (int, float)):
            self._check_number(value, schema, path)
        return value

    def _check_object(
        self, schema: Mapping[str, Any], value: dict[str, Any], path: str, depth: int
    ) -> dict[str, Any]:
        properties: Mapping[str, Any] = schema.get("properties", {})
        missing = [name for name in schema.get("required", ()) if name not in value]
        self._problems.extend(f"{path}: missing required {name!r}" for name in missing)
        extra_schema = schema.get("additionalProperties", True)
        checked: dict[str, Any] = {}
        for name, item in value.items():
            if name in properties:
                checked[name] = self.check(properties[name], item, f"{path}.{name}", depth + 1)
            elif extra_schema is False:
                self._problems.append(f"{path}: unexpected argument {name!r}")
            elif isinstance(extra_schema, Mapping):
                checked[name] = self.check(extra_schema, item, f"{path}.{name}", depth + 1)
            else:
                checked[name] = item
        return checked

    def _check_number(self, value: float, schema: Mapping[str, Any], path: str) -> None:
        limits = (
            ("minimum", operator.ge, ">="),
            ("maximum", operator.le, "<="),
            ("exclusiveMinimum", operator.gt, ">"),
            ("exclusiveMaximum", operator.lt, "<"),
        )
        for keyword, holds, sign in limits:
            bound = schema.get(keyword)
            if not isinstance(bound, (int, float)) or isinstance(bound, bool):
                continue
            if not holds(value, bound):
                self._problems.append(f"{path}: {value!r} is not {sign} {bound!r}")

    def _bound(
        self, size: int, schema: Mapping[str, Any], keywords: tuple[str, str, str], path: str
    ) -> None:
        low, high, unit = keywords
        if isinstance(schema.get(low), int) and size < schema[low]:
            self._problems.append(f"{path}: needs at least {schema[low]} {unit}")
        if isinstance(schema.get(high), int) and size > schema[high]:
            self._problems.append(f"{path}: allows at most {schema[high]} {unit}")

    def _first_match(self, options: list[Any], value: object, path: str, depth: int) -> object:
        reasons: list[str] = []
        for option in options:
            trial: list[str] = []
            checked = _Checker(self._root, trial).check(option, value, path, depth + 1)
            if not trial:
                return checked
            reasons.extend(trial)
        self._problems.append(f"{path}: matches none of its allowed forms ({'; '.join(reasons)})")
        return value

    def _resolve(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#/"):
            return {}  # remote references are not followed; the value is not checked there
        node: Any = self._root
        for part in ref[2:].split("/"):
            if not isinstance(node, Mapping) or part not in node:
                return {}
            node = node[part]
        return node if isinstance(node, Mapping) else {}


_NO_MATCH = object()


def _coerce(kind: str, value: object) -> object:
    """``value`` as JSON type ``kind`` when it has exactly one such reading, else ``_NO_MATCH``."""
    coerce = _COERCIONS.get(kind)
    if coerce is not None:
        return coerce(value)
    python_type = _PLAIN_TYPES.get(kind)
    if python_type is None:
        return value  # an unknown type name: not ours to refuse
    return value if isinstance(value, python_type) else _NO_MATCH


def _as_integer(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER_TEXT.match(value.strip()):
        return _int_from_text(value.strip())
    return _NO_MATCH


def _as_number(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # any size: math.isfinite would overflow converting a huge one to float
    if isinstance(value, float):
        return value if math.isfinite(value) else _NO_MATCH
    if isinstance(value, str) and _NUMBER_TEXT.match(value.strip()):
        text = value.strip()
        if _INTEGER_TEXT.match(text):
            return _int_from_text(text)
        number = float(text)
        # "1e999" reads as infinity, which is no more a JSON number than Infinity itself.
        return number if math.isfinite(number) else _NO_MATCH
    return _NO_MATCH


def _int_from_text(text: str) -> object:
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        return _NO_MATCH


def _as_boolean(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return _NO_MATCH


_COERCIONS: dict[str, Callable[[object], object]] = {
    "integer": _as_integer,
    "number": _as_number,
    "boolean": _as_boolean,
}
_PLAIN_TYPES: dict[str, type] = {"string": str, "object": dict, "array": list, "null": type(None)}


def _kind(value: object) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "object"
    return names.get(type(value), type(value).__name__)


def _without(schema: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != key}
