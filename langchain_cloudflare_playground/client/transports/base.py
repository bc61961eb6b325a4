"""The transport interface: "stream this HTTP request" and "open this WebSocket".

A transport carries bytes and frames and knows nothing of wire formats. Drivers are handed one,
never reach for one, and cannot tell which carries them (aiohttp, a browser page, a cassette, or
a transport of the caller's own). Every transport reports its failures as the client's typed
errors, mapped once inside it: a connection that cannot be made or breaks is a
:class:`~langchain_cloudflare_playground.client.errors.PlaygroundConnectionError`, silence past
the timeout a :class:`~langchain_cloudflare_playground.client.errors.PlaygroundTimeoutError`, a
refused WebSocket upgrade the error :func:`~langchain_cloudflare_playground.client.errors.\
make_upgrade_error` makes of its status. An HTTP response comes back whatever its status: telling
a refusal from a reply is the driver's job, done once for every transport.

A transport of your own is a class with the three methods of :class:`Transport`::

    class CountingTransport:
        def __init__(self, inner: Transport) -> None:
            self.inner, self.frames = inner, 0

        def stream(self, request: HttpRequest) -> AbstractAsyncContextManager[HttpResponse]:
            return self.inner.stream(request)

        async def open_websocket(self, request: WebSocketRequest) -> WebSocket:
            return await self.inner.open_websocket(request)

        async def aclose(self) -> None:
            await self.inner.aclose()

    client = PlaygroundClient(transport=CountingTransport(AiohttpTransport()))
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping, Sequence
    from contextlib import AbstractAsyncContextManager

__all__ = [
    "HttpRequest",
    "HttpResponse",
    "Transport",
    "WebSocket",
    "WebSocketRequest",
]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One HTTP request to the playground.

    Attributes:
        method: ``"GET"`` or ``"POST"``.
        url: The absolute ``http(s)://`` URL.
        headers: Every header to send (the session's cookies among them, in ``Cookie``).
        json: The body, a JSON value sent as ``application/json`` (:attr:`body` has its bytes),
            or ``None`` for no body.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    json: object = field(default=None, repr=False)

    @property
    def body(self) -> bytes | None:
        """The body's bytes (``Content-Type: application/json``), or ``None``."""
        return None if self.json is None else json.dumps(self.json).encode()


class HttpResponse:
    """An HTTP response whose body arrives as a stream of bytes.

    Built by a transport from whatever its network library returns; drivers read only this.

    Args:
        status: The status code.
        headers: The response headers as name/value pairs (a name may repeat, as
            ``Set-Cookie`` does).
        stream: The body, in pieces as they arrive.
    """

    __slots__ = ("_headers", "_stream", "status")

    def __init__(
        self, status: int, headers: Sequence[tuple[str, str]], stream: AsyncIterator[bytes]
    ) -> None:
        """Wrap a response of ``status`` with ``headers`` whose body is ``stream``."""
        self.status = status
        self._headers = [(name.lower(), value) for name, value in headers]
        self._stream = stream

    def __repr__(self) -> str:
        """The status only: headers may set cookies."""
        return f"HttpResponse(status={self.status})"

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or ``None``."""
        wanted = name.lower()
        return next((value for key, value in self._headers if key == wanted), None)

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case), in order."""
        wanted = name.lower()
        return [value for key, value in self._headers if key == wanted]

    @property
    def headers(self) -> dict[str, str]:
        """The headers by lower-case name (the first value of a repeated one)."""
        merged: dict[str, str] = {}
        for key, value in self._headers:
            merged.setdefault(key, value)
        return merged

    def iter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives (once: a body cannot be read twice)."""
        return self._stream

    async def aread(self, limit: int | None = None) -> bytes:
        """The body, or its first ``limit`` bytes."""
        body = bytearray()
        async for chunk in self._stream:
            body += chunk
            if limit is not None and len(body) >= limit:
                return bytes(body[:limit])
        return bytes(body)


@dataclass(frozen=True, slots=True)
class WebSocketRequest:
    """A WebSocket to open.

    Attributes:
        url: The ``ws(s)://`` URL (of a fresh room, for the Agents frames).
        headers: Headers for the upgrade request (ignored by a transport that opens sockets
            from a browser page, which sends the page's own).
        conversation: What the socket will carry, without anything random: the settings and
            history of a chat, or the name of an agent call. Transports that record or route
            conversations key them by it; others ignore it.
    """

    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    conversation: Mapping[str, object] = field(default_factory=dict, repr=False)


class WebSocket(Protocol):
    """An open WebSocket: text frames in and out."""

    async def send(self, frame: str) -> None:
        """Send one text frame."""
        ...

    async def receive(self) -> str:
        """The next text frame; a typed error when the connection ends or goes quiet."""
        ...

    def conversation_ended(self) -> None:
        """The conversation is over: called at once, before :meth:`close` (which may wait)."""
        ...

    async def close(self) -> None:
        """Close the connection (run in the background: it must not raise)."""
        ...


@runtime_checkable
class Transport(Protocol):
    """How bytes travel to the playground and back."""

    def stream(self, request: HttpRequest) -> AbstractAsyncContextManager[HttpResponse]:
        """Send ``request``; the response is open inside the ``async with``, whatever its status.

        Leaving the block releases the connection: a body read to its end may go back to a
        pool, one left unread is closed.
        """
        ...

    async def open_websocket(self, request: WebSocketRequest) -> WebSocket:
        """Open a WebSocket, or raise the typed error for a refused upgrade."""
        ...

    async def aclose(self) -> None:
        """Release what the transport holds for the running event loop."""
        ...
