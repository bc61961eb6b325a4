"""The driver of the HTTP wire formats: ``POST /api/inference`` and ``GET /api/models``.

The reply's first line tells server-sent events from the AI SDK data stream; the driver
remembers which one the server speaks.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, NoReturn

from langchain_cloudflare_playground.client.drivers.base import iter_line_batches
from langchain_cloudflare_playground.client.errors import (
    ImagesNotSupportedError,
    PlaygroundConnectionError,
    PlaygroundError,
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

    async def stream(
        self, route: Route, request: ChatRequest
    ) -> AsyncGenerator[list[ChatEvent], None]:
        """One try: the reply's events, a batch per read, ending with a ``Finish``.

        Raises:
            ImagesNotSupportedError: the conversation holds images (before anything is sent).
        """
        if request.conversation.images:
            _refuse_images(route, request)
        # The data stream is the newer guess. The two formats carry the system prompt in
        # different places, so a reply in the other format to a request with one is asked again,
        # once.
        encoded_as = self._spoken or HttpWireFormat.DATA_STREAM
        for _ in range(2):
            try:
                async with contextlib.aclosing(
                    self._stream_as(route, request, encoded_as)
                ) as batches:
                    async for batch in batches:
                        yield batch
                    return
            except _OtherWireFormatError as exc:
                encoded_as = self._spoken = exc.spoken
        msg = "the server switched wire formats between two requests"
        raise PlaygroundProtocolError(msg)

    async def _stream_as(
        self, route: Route, request: ChatRequest, encoded_as: HttpWireFormat
    ) -> AsyncGenerator[list[ChatEvent], None]:
        async with route.request(
            "POST", "/api/inference", json_body=encoded_as.encode(request)
        ) as response:
            reader = _ReplyReader(request, encoded_as)
            async with contextlib.aclosing(iter_line_batches(response)) as batches:
                async for lines in batches:
                    # What one read completes travels on together: a layer costs a step per
                    # batch, not per event.
                    events, error = reader.feed(lines)
                    if reader.spoken is not None:
                        self._spoken = reader.spoken
                    if events:  # what came before a bad line reaches the caller first
                        yield events
                    if error is not None:
                        raise error
                    if reader.done:
                        return
            if reader.spoken is None:
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


def _refuse_images(route: Route, request: ChatRequest) -> NoReturn:
    # The 2024-25 API took a model and text messages only: `/api/inference` passed `messages`
    # to Workers AI as they were, with no image field in either wire format (PROTOCOL.md).
    msg = (
        f"{route.base_url} speaks the playground's HTTP wire formats (the API of 2024-25), which"
        " had no image input; images need the Agents frames of the live site"
        " (wire_format='agents' or 'auto' against a playground that serves them)"
    )
    raise ImagesNotSupportedError(msg, request.model)


class _OtherWireFormatError(Exception):
    """The server answered in the other wire format, before anything reached the caller."""

    def __init__(self, spoken: HttpWireFormat) -> None:
        super().__init__(spoken.value)
        self.spoken = spoken


class _ReplyReader:
    """One reply's lines to events: tells the wire format from the first line, then decodes."""

    def __init__(self, request: ChatRequest, encoded_as: HttpWireFormat) -> None:
        self._request = request
        self._encoded_as = encoded_as
        self._decoder: StreamDecoder | None = None
        self.spoken: HttpWireFormat | None = None

    @property
    def done(self) -> bool:
        return self._decoder is not None and self._decoder.done

    def feed(self, lines: list[str]) -> tuple[list[ChatEvent], PlaygroundError | None]:
        """The events of ``lines`` up to the reply's end, and the error that stopped them."""
        events: list[ChatEvent] = []
        try:
            if self._decoder is None:
                # Blank lines before the first one that tells the wire format carry nothing.
                start = next((i for i, line in enumerate(lines) if line.strip()), None)
                if start is None:
                    return events, None
                self._decoder = self._detect(lines[start])
                lines = lines[start:]
            self._decoder.feed_lines(lines, events)
        except PlaygroundError as exc:
            return events, exc
        return events, None

    def _detect(self, line: str) -> StreamDecoder:
        spoken = self.spoken = detect_http_wire_format(line)
        if spoken is not self._encoded_as and self._request.conversation.system:
            raise _OtherWireFormatError(spoken)
        return spoken.decoder(self._request.model)
