"""Finding and reading JSON the way models write it: inside prose, in fences, a little loose.

Only repairs with one possible reading are made: single-quoted strings, trailing commas and
Python's ``True``/``False``/``None``. Anything else is reported as unreadable, never guessed at.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

__all__ = ["JsonSpan", "find_json_spans", "json_end", "loads_lenient"]

_OPENERS = {"{": "}", "[": "]"}
_PYTHON_LITERALS = {"True": "true", "False": "false", "None": "null"}
_TRAILING_COMMA = re.compile(r",\s*[}\]]")
# A UTF-16 surrogate pair written as two escapes: JSON reads it as one character.
_SURROGATE_PAIR = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")


@dataclass(frozen=True, slots=True)
class JsonSpan:
    """A bracketed stretch of text: ``text[start:end]``; ``closed`` is False if it never closes."""

    start: int
    end: int
    closed: bool


def find_json_spans(text: str) -> list[JsonSpan]:
    """The top-level ``{...}`` and ``[...]`` stretches of ``text``, in order.

    Brackets inside quoted strings do not count. Quotes are only tracked inside a stretch, so
    apostrophes in the prose around it ("don't") cannot throw the scan off.
    """
    spans: list[JsonSpan] = []
    index = 0
    while index < len(text):
        if text[index] not in _OPENERS:
            index += 1
            continue
        end = _matching_close(text, index)
        if end is None:
            spans.append(JsonSpan(index, len(text), closed=False))
            break
        spans.append(JsonSpan(index, end, closed=True))
        index = end
    return spans


def json_end(text: str, start: int) -> int | None:
    """Where the ``{...}`` or ``[...]`` opening at ``text[start]`` closes, or ``None``."""
    if start >= len(text) or text[start] not in _OPENERS:
        return None
    return _matching_close(text, start)


def _matching_close(text: str, start: int) -> int | None:
    stack: list[str] = []
    quote: str | None = None
    index = start
    while index < len(text):
        char = text[index]
        if quote is not None:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in ('"', "'"):
            quote = char
        elif char in _OPENERS:
            stack.append(_OPENERS[char])
        elif char in "}]":
            if not stack or stack.pop() != char:
                return None
            if not stack:
                return index + 1
        index += 1
    return None


def loads_lenient(text: str) -> object:
    """``json.loads``, then once more after the unambiguous repairs.

    Raises:
        ValueError: when the text is not JSON even after the repairs, or is nested too deeply
            to read (models' text is untrusted: it never gets to raise ``RecursionError``).
    """
    try:
        return _loads(text)
    except ValueError:
        pass
    return _loads(_repair(text))


def _loads(text: str) -> object:
    try:
        return json.loads(text)
    except RecursionError:
        msg = "nested too deeply to read (more than a thousand levels)"
        raise ValueError(msg) from None


def _repair(text: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char in ('"', "'"):
            literal, index = _read_string(text, index)
            out.append(json.dumps(literal, ensure_ascii=False))
            continue
        if char == "," and _TRAILING_COMMA.match(text, index):
            index += 1
            continue
        if char.isalpha():
            word_end = index
            while word_end < len(text) and (text[word_end].isalnum() or text[word_end] == "_"):
                word_end += 1
            word = text[index:word_end]
            out.append(_PYTHON_LITERALS.get(word, word))
            index = word_end
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _read_string(text: str, start: int) -> tuple[str, int]:
    """The string that starts at ``text[start]`` (either quote), and where it ends."""
    quote = text[start]
    chars: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            escaped = text[index + 1]
            if escaped == quote or escaped in "\\/'\"":
                chars.append(escaped)
                index += 2
                continue
            # Other escapes (\n, \u00e9, a surrogate pair...) mean what JSON says they mean.
            pair = _SURROGATE_PAIR.match(text, index)
            if pair is not None:
                body = pair.group()
            else:
                body = text[index : index + 6] if escaped == "u" else text[index : index + 2]
            chars.append(json.loads(f'"{body}"'))
            index += len(body)
            continue
        if char == quote:
            return "".join(chars), index + 1
        chars.append(char)
        index += 1
    msg = "unterminated string"
    raise ValueError(msg)
