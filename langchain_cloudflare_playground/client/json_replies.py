"""Asking a model for one JSON object, and finding it in what the model wrote (pure).

The playground has no JSON mode: the object is asked for in the system prompt, and read from
the reply, fences, prose and all. The LangChain adapter's ``with_structured_output`` (methods
``json_schema`` and ``json_mode``) and ``cf-playground serve`` (``response_format`` of type
``json_object``) ask in the same words.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from langchain_cloudflare_playground.client.tools.lenient_json import (
    find_json_spans,
    loads_lenient,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["find_json_object", "json_instruction"]

_INSTRUCTION = (
    "Answer with one JSON object and nothing else: no prose before or after it, no code fences."
)


def json_instruction(schema: Mapping[str, Any] | None = None) -> str:
    """The system prompt that asks for one JSON object, matching ``schema`` when given."""
    if schema is None:
        return _INSTRUCTION
    return f"{_INSTRUCTION} The object must match this JSON schema:\n{json.dumps(schema)}"


def find_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text`` that can be read, or ``None``."""
    for span in find_json_spans(text):
        if not span.closed:
            break
        try:
            value = loads_lenient(text[span.start : span.end])
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None
