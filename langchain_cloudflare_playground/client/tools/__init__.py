"""Tool calling over plain chat, for a playground that takes no client-defined tools.

``spec`` (what callers declare), ``offerings`` (how each model family is offered tools, by model
id: one table) with ``prompt`` (the generic format) and ``native_writers`` (the pieces of each
family's own format), ``parser`` with ``lenient_json``, ``call_shapes``, ``native_formats`` (each
family's own call format, one table; ``gemma4_syntax`` for Gemma 4's values, read and written) and
``schema_check`` (reading replies), ``prose_splitter`` (streaming prose while a call may be
coming) and ``calling`` (the loop, with one correction).
"""

from typing import TYPE_CHECKING, Any

from langchain_cloudflare_playground.client.tools.spec import (
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
    normalize_tool_choice,
)

if TYPE_CHECKING:
    from langchain_cloudflare_playground.client.tools.parser import ParsedReply, parse_reply

__all__ = [
    "ParsedReply",
    "Tool",
    "ToolCall",
    "ToolChoice",
    "ToolResult",
    "normalize_tool_choice",
    "parse_reply",
]


def __getattr__(name: str) -> Any:  # noqa: ANN401 (module attributes of any type)
    # The parser loads with the first reply that offers tools, not with the package.
    if name in ("ParsedReply", "parse_reply"):
        from langchain_cloudflare_playground.client.tools import parser  # noqa: PLC0415

        return getattr(parser, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
