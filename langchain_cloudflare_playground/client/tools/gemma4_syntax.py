"""Gemma 4's value syntax, read and written: ``{city:<|"|>Paris<|"|>,days:3,metric:true}``.

Gemma 4 writes its calls' arguments, and reads its tool declarations and results, in a JSON-like
syntax of its own (its chat template's ``format_argument``): keys bare, each string between two
``<|"|>`` tokens, numbers, ``true``, ``false`` and ``null`` bare, keys of a mapping sorted.
``<|"|>`` is a special token: a server that drops special tokens from the text leaves strings
bare, so a bare word that is no number or literal is read as the string it was.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

__all__ = ["STRING", "read_value", "write_value"]

STRING = '<|"|>'
"""The token on both sides of a string."""

_MAX_DEPTH = 64
# A bare value runs to the next delimiter; a bare key to its colon.
_VALUE_END = re.compile(r"[,{}\[\]]")
_KEY_END = re.compile(r"[:,{}\[\]]")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_LITERALS: dict[str, object] = {"true": True, "false": False, "null": None, "None": None}
# A key written bare, as the template writes argument names; any other key is written as a string.
_PLAIN_KEY = re.compile(r"[A-Za-z_][\w.-]*")


class _Unclosed(Exception):  # noqa: N818 (internal: the text ends inside the value)
    pass


def read_value(text: str, start: int) -> tuple[object, int] | None:
    """The value written at ``text[start:]`` and where it ends; ``None`` if it never closes.

    Raises:
        ValueError: The text there is not a value in this syntax.
    """
    try:
        return _value(text, start, 0)
    except _Unclosed:
        return None


def write_value(value: object) -> str:
    """``value`` (JSON data) in Gemma 4's syntax, keys sorted as the template sorts them."""
    if isinstance(value, str):
        return f"{STRING}{value}{STRING}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        pairs = sorted((str(key), item) for key, item in value.items())
        return "{" + ",".join(f"{_key_text(key)}:{write_value(item)}" for key, item in pairs) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(write_value(item) for item in value) + "]"
    return json.dumps(value)


def _key_text(key: str) -> str:
    return key if _PLAIN_KEY.fullmatch(key) else f"{STRING}{key}{STRING}"


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index].isspace():
        index += 1
    if index >= len(text):
        raise _Unclosed
    return index


def _bare_end(delimiter: re.Pattern[str], text: str, index: int) -> int:
    found = delimiter.search(text, index)
    if found is None:
        raise _Unclosed
    return found.start()


def _value(text: str, index: int, depth: int) -> tuple[object, int]:
    index = _skip_space(text, index)
    if text.startswith(STRING, index) or text[index] == '"':
        return _string(text, index)
    if text[index] in "{[":
        if depth >= _MAX_DEPTH:
            msg = "it is nested too deeply"
            raise ValueError(msg)
        return _container(text, index, depth + 1)
    end = _bare_end(_VALUE_END, text, index)
    word = text[index:end].strip()
    if not word:
        msg = "a value is missing"
        raise ValueError(msg)
    if word in _LITERALS:
        return _LITERALS[word], end
    if _NUMBER.fullmatch(word):
        return json.loads(word), end
    return word, end


def _string(text: str, index: int) -> tuple[str, int]:
    if text[index] == '"':  # a JSON string, as models sometimes write one
        value, end = json.JSONDecoder().raw_decode(text, index)
        return str(value), end
    close = text.find(STRING, index + len(STRING))
    if close < 0:
        raise _Unclosed
    return text[index + len(STRING) : close], close + len(STRING)


def _container(text: str, index: int, depth: int) -> tuple[object, int]:
    closing = "}" if text[index] == "{" else "]"
    pairs: dict[str, object] = {}
    items: list[object] = []
    index += 1
    while True:
        index = _skip_space(text, index)
        if text[index] == closing:  # empty, or after a trailing comma
            return (pairs if closing == "}" else items), index + 1
        if closing == "}":
            key, index = _key(text, index)
            pairs[key], index = _value(text, index, depth)
        else:
            item, index = _value(text, index, depth)
            items.append(item)
        index = _skip_space(text, index)
        if text[index] == ",":
            index += 1
        elif text[index] != closing:
            msg = "a comma or a closing bracket was expected"
            raise ValueError(msg)


def _key(text: str, index: int) -> tuple[str, int]:
    if text.startswith(STRING, index) or text[index] == '"':
        key, index = _string(text, index)
        index = _skip_space(text, index)
    else:
        end = _bare_end(_KEY_END, text, index)
        key = text[index:end].strip()
        index = end
    if text[index] != ":" or not key:
        msg = "a key, then a colon, was expected"
        raise ValueError(msg)
    return key, index + 1
