"""Wire formats, pure: requests to wire messages, lines or frames to events.

Server-sent events (``sse``, 2024), the AI SDK data stream (``data_stream``, 2025) and the
Agents frames (``agents_frames``, the live site since 2025-10-28).

Nothing here touches the network; transports feed bytes in and take events out.
"""

from __future__ import annotations

import enum

from langchain_cloudflare_playground.client.errors import PlaygroundProtocolError
from langchain_cloudflare_playground.client.wire_formats.base import ChatRequest, StreamDecoder
from langchain_cloudflare_playground.client.wire_formats.data_stream import (
    DataStreamDecoder,
    encode_data_stream_request,
    looks_like_data_stream,
)
from langchain_cloudflare_playground.client.wire_formats.lines import LineDecoder
from langchain_cloudflare_playground.client.wire_formats.sse import (
    SseDecoder,
    encode_sse_request,
    looks_like_sse,
)

__all__ = [
    "ChatRequest",
    "HttpWireFormat",
    "LineDecoder",
    "StreamDecoder",
    "detect_http_wire_format",
]


class HttpWireFormat(enum.Enum):
    """The two wire formats of ``POST /api/inference``."""

    SSE = "sse"  # 2024
    DATA_STREAM = "data-stream"  # 2025-03 to 2025-10

    def encode(self, request: ChatRequest) -> dict[str, object]:
        """Build this wire format's JSON body for ``request``."""
        if self is HttpWireFormat.SSE:
            return encode_sse_request(request)
        return encode_data_stream_request(request)

    def decoder(self, model: str) -> StreamDecoder:
        """A fresh decoder for one reply in this wire format."""
        if self is HttpWireFormat.SSE:
            return SseDecoder(model)
        return DataStreamDecoder(model)


def detect_http_wire_format(first_line: str) -> HttpWireFormat:
    """Tell the wire format of a response from its first non-empty line."""
    if looks_like_sse(first_line):
        return HttpWireFormat.SSE
    if looks_like_data_stream(first_line):
        return HttpWireFormat.DATA_STREAM
    msg = (
        "the server's reply is neither server-sent events nor an AI SDK data stream"
        f" (it starts with {first_line[:80]!r}); check the base URL"
    )
    raise PlaygroundProtocolError(msg)
