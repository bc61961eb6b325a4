"""Tool calling over plain chat, for a playground that takes no client-defined tools.

``spec`` (what callers declare), ``prompt`` (how tools, calls and results are written into the
chat), ``parser`` with ``lenient_json`` and ``schema_check`` (reading replies), ``prose_splitter``
(streaming prose while a call may be coming) and ``calling`` (the loop, with one correction).
"""

from langchain_cloudflare_playground.client.tools.parser import ParsedReply, parse_reply
from langchain_cloudflare_playground.client.tools.prompt import ToolResult
from langchain_cloudflare_playground.client.tools.spec import (
    Tool,
    ToolCall,
    ToolChoice,
    normalize_tool_choice,
)

__all__ = [
    "ParsedReply",
    "Tool",
    "ToolCall",
    "ToolChoice",
    "ToolResult",
    "normalize_tool_choice",
    "parse_reply",
]
