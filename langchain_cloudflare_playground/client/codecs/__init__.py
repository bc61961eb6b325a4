"""Pure codecs, one per wire dialect: requests to wire messages, wire lines to events.

Nothing here touches the network; transports feed bytes in and take events out.
"""

from __future__ import annotations

import enum

from langchain_cloudflare_playground.client.codecs.base import ChatRequest, StreamDecoder
from langchain_cloudflare_playground.client.codecs.data_stream import (
    DataStreamDecoder,
    encode_data_stream_request,
    looks_like_data_stream,
)
from langchain_cloudflare_playground.client.codecs.lines import LineDecoder
from langchain_cloudflare_playground.client.codecs.sse import (
    SseDecoder,
    encode_sse_request,
    looks_like_sse,
)
from langchain_cloudflare_playground.client.errors import PlaygroundProtocolError

__all__ = [
    "ChatRequest",
    "HttpDialect",
    "LineDecoder",
    "StreamDecoder",
    "detect_http_dialect",
]


class HttpDialect(enum.Enum):
    """The two dialects of ``POST /api/inference``."""

    SSE = "sse"  # dialect 1
    DATA_STREAM = "data-stream"  # dialect 2

    def encode(self, request: ChatRequest) -> dict[str, object]:
        """Build this dialect's JSON body for ``request``."""
        if self is HttpDialect.SSE:
            return encode_sse_request(request)
        return encode_data_stream_request(request)

    def decoder(self, model: str) -> StreamDecoder:
        """A fresh decoder for one reply in this dialect."""
        if self is HttpDialect.SSE:
            return SseDecoder(model)
        return DataStreamDecoder(model)


def detect_http_dialect(first_line: str) -> HttpDialect:
    """Tell the dialect of a response from its first non-empty line."""
    if looks_like_sse(first_line):
        return HttpDialect.SSE
    if looks_like_data_stream(first_line):
        return HttpDialect.DATA_STREAM
    msg = (
        "the server's reply is neither server-sent events nor an AI SDK data stream"
        f" (it starts with {first_line[:80]!r}); check the base URL"
    )
    raise PlaygroundProtocolError(msg)
