"""The driver of the HTTP wire formats: ``POST /api/inference`` and ``GET /api/models``.

The reply's first line tells server-sent events from the AI SDK data stream; the driver
remembers which one the server speaks.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.client.drivers.base import iter_lines
from langchain_cloudflare_playground.client.errors import (
    PlaygroundConnectionError,
    PlaygroundProtocolError,
)
from langchain_cloudflare_playground.client.models import parse_model_list
from langchain_cloudflare_playground.client.wire_formats import (
    HttpWireFormat,
    detect_http_wire_format,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from langchain_cloudflare_playground.client.drivers.base import Route
    from langchain_cloudflare_playground.client.events import ChatEvent
    from langchain_cloudflare_playground.client.models import ModelInfo
    from langchain_cloudflare_playground.client.wire_formats import ChatRequest, StreamDecoder

__all__ = ["HttpDriver"]


class HttpDriver:
    """Speaks whichever HTTP wire format the server answers in."""

    def __init__(self) -> None:
        """Nothing learnt yet."""
        self._spoken: HttpWireFormat | None = None  # learnt from the server's first reply

    async def stream(self, route: Route, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        """One try: the reply's events, ending with a ``Finish``."""
        # The data stream is the newer guess. The two formats carry the system prompt in
        # different places, so a reply in the other format to a request with one is asked again,
        # once.
        encoded_as = self._spoken or HttpWireFormat.DATA_STREAM
        for _ in range(2):
            try:
                async with contextlib.aclosing(
                    self._stream_as(route, request, encoded_as)
                ) as events:
                    async for event in events:
                        yield event
                    return
            except _OtherWireFormatError as exc:
                encoded_as = exc.spoken
        msg = "the server switched wire formats between two requests"
        raise PlaygroundProtocolError(msg)

    async def _stream_as(
        self, route: Route, request: ChatRequest, encoded_as: HttpWireFormat
    ) -> AsyncGenerator[ChatEvent, None]:
        async with route.request(
            "POST", "/api/inference", json_body=encoded_as.encode(request)
        ) as response:
            decoder: StreamDecoder | None = None
            async with contextlib.aclosing(iter_lines(response)) as lines:
                async for line in lines:
                    if decoder is None:
                        if not line.strip():
                            continue
                        spoken = detect_http_wire_format(line)
                        self._spoken = spoken
                        if spoken is not encoded_as and request.conversation.system:
                            raise _OtherWireFormatError(spoken)
                        decoder = spoken.decoder(request.model)
                    for event in decoder.feed(line):
                        yield event
                    if decoder.done:
                        return
            if decoder is None:
                msg = "the playground answered with an empty reply"
                raise PlaygroundProtocolError(msg)
            msg = "the playground closed the stream before the reply was complete"
            raise PlaygroundConnectionError(msg)

    async def list_models(self, route: Route) -> list[ModelInfo]:
        """The catalog from ``GET /api/models``."""
        async with route.request("GET", "/api/models", accept="application/json") as response:
            raw = await response.aread()
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            msg = f"the model list is not JSON: {raw[:80]!r}"
            raise PlaygroundProtocolError(msg) from exc
        models = parse_model_list(payload)
        if not models:
            msg = "the model list is empty or in an unknown shape"
            raise PlaygroundProtocolError(msg)
        return models


class _OtherWireFormatError(Exception):
    """The server answered in the other wire format, before anything reached the caller."""

    def __init__(self, spoken: HttpWireFormat) -> None:
        super().__init__(spoken.value)
        self.spoken = spoken
