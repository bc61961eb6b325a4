"""The HTTP dialects (1 and 2): ``POST /api/inference`` and ``GET /api/models``."""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.client.codecs import HttpDialect, detect_http_dialect
from langchain_cloudflare_playground.client.errors import (
    PlaygroundConnectionError,
    PlaygroundProtocolError,
)
from langchain_cloudflare_playground.client.models import parse_model_list
from langchain_cloudflare_playground.client.transports.http import (
    check_status,
    drain_for_reuse,
    iter_lines,
    translated_errors,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from langchain_cloudflare_playground.client.codecs import ChatRequest, StreamDecoder
    from langchain_cloudflare_playground.client.connection import Connection
    from langchain_cloudflare_playground.client.events import ChatEvent
    from langchain_cloudflare_playground.client.models import ModelInfo

__all__ = ["HttpDialects"]


class HttpDialects:
    """Speaks whichever of dialects 1 and 2 the server answers in."""

    def __init__(self, connection: Connection) -> None:
        """Talk through ``connection``."""
        self._connection = connection
        self._spoken: HttpDialect | None = None  # learnt from the server's first reply

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        """One try: the reply's events, ending with a ``Finish``."""
        # Dialect 2 is the newer guess. The dialects carry the system prompt in different places,
        # so a reply in the other dialect to a request with one is asked again, once.
        encoded_as = self._spoken or HttpDialect.DATA_STREAM
        for _ in range(2):
            try:
                async with contextlib.aclosing(self._stream_as(request, encoded_as)) as events:
                    async for event in events:
                        yield event
                    return
            except _OtherDialectError as exc:
                encoded_as = exc.spoken
        msg = "the server switched dialects between two requests"
        raise PlaygroundProtocolError(msg)

    async def _stream_as(
        self, request: ChatRequest, encoded_as: HttpDialect
    ) -> AsyncGenerator[ChatEvent, None]:
        connection = self._connection
        args = await connection.sessions.get()
        with translated_errors(connection.timeout, connection.total_timeout):
            session = await connection.http_session()
            async with session.post(
                f"{connection.base_url}/api/inference",
                json=encoded_as.encode(request),
                headers=args.request_headers(),
                proxy=connection.proxy,
            ) as response:
                # Cloudflare sets cookies on refusals too (a 429, a challenge): keep them.
                connection.sessions.update_cookies(response.cookies)
                await check_status(response)
                decoder: StreamDecoder | None = None
                async with contextlib.aclosing(iter_lines(response)) as lines:
                    async for line in lines:
                        if decoder is None:
                            if not line.strip():
                                continue
                            spoken = detect_http_dialect(line)
                            self._spoken = spoken
                            if spoken is not encoded_as and request.conversation.system:
                                raise _OtherDialectError(spoken)
                            decoder = spoken.decoder(request.model)
                        for event in decoder.feed(line):
                            yield event
                        if decoder.done:
                            await drain_for_reuse(response)
                            return
                if decoder is None:
                    msg = "the playground answered with an empty reply"
                    raise PlaygroundProtocolError(msg)
                msg = "the playground closed the stream before the reply was complete"
                raise PlaygroundConnectionError(msg)

    async def list_models(self) -> list[ModelInfo]:
        """The catalog from ``GET /api/models``."""
        connection = self._connection
        args = await connection.sessions.get()
        with translated_errors(connection.timeout, connection.total_timeout):
            session = await connection.http_session()
            async with session.get(
                f"{connection.base_url}/api/models",
                headers={**args.request_headers(), "Accept": "application/json"},
                proxy=connection.proxy,
            ) as response:
                connection.sessions.update_cookies(response.cookies)
                await check_status(response)
                raw = await response.read()
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


class _OtherDialectError(Exception):
    """The server answered in the other dialect, before anything reached the caller."""

    def __init__(self, spoken: HttpDialect) -> None:
        super().__init__(spoken.value)
        self.spoken = spoken
