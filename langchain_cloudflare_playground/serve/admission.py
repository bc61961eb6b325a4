"""Who gets in, and how many at once: the key, the body size limit, the conversation cap.

:class:`RequestGuard` is plain ASGI middleware (it never wraps a streamed reply): it answers a
body over the limit with a 413 before the application sees it, and a request to ``/v1`` without
the key with a 401. :class:`ConversationGate` caps the conversations in flight; the rest wait in
a queue of bounded length, and past it are answered 429 at once.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.serve.openai_errors import OpenAIError

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ConversationGate", "RequestGuard", "send_error"]

_QUEUE_FULL_RETRY_AFTER = "1"


class ConversationGate:
    """At most ``limit`` conversations in flight; up to ``queue`` more wait their turn."""

    def __init__(self, limit: int, queue: int) -> None:
        """A gate with ``limit`` places and a queue of ``queue``."""
        if limit < 1 or queue < 0:
            msg = f"the cap must be 1 or more and the queue 0 or more, not {limit} and {queue}"
            raise ValueError(msg)
        self.limit = limit
        self.queue = queue
        self.in_flight = 0
        self.waiting = 0
        self._places = asyncio.Semaphore(limit)

    async def enter(self) -> None:
        """Take a place, waiting in the queue for one if need be.

        Raises:
            OpenAIError: a 429 with ``Retry-After`` when the queue is full.
        """
        if self._places.locked() and self.waiting >= self.queue:
            msg = (
                f"this server is busy: {self.limit} conversations are in flight and"
                f" {self.waiting} waiting; try again shortly"
            )
            raise OpenAIError(
                429,
                msg,
                type="rate_limit_error",
                code="server_busy",
                headers={"Retry-After": _QUEUE_FULL_RETRY_AFTER},
            )
        self.waiting += 1
        try:
            await self._places.acquire()
        finally:
            self.waiting -= 1
        self.in_flight += 1

    def leave(self) -> None:
        """Give the place back."""
        self.in_flight -= 1
        self._places.release()


class RequestGuard:
    """ASGI middleware: the body size limit for every request, the key for ``/v1``."""

    def __init__(self, app: ASGIApp, *, api_key: str | None, max_body_bytes: int) -> None:
        """Guard ``app``; ``api_key`` ``None`` lets every request in."""
        self.app = app
        self._key = None if api_key is None else api_key.encode()
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what must be refused; pass the rest on with its body read once."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._key is not None and scope["path"].startswith("/v1") and not self._has_key(scope):
            error = OpenAIError(
                401,
                "a valid API key is required: send it as 'Authorization: Bearer KEY'",
                type="authentication_error",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
            await send_error(send, error)
            return
        body = await self._read_body(scope, receive)
        if body is None:
            error = OpenAIError(
                413,
                f"the request body is larger than this server takes ({self._max_body} bytes)",
                code="request_too_large",
            )
            await send_error(send, error)
            return
        await self.app(scope, _replay(body, receive), send)

    def _has_key(self, scope: Scope) -> bool:
        assert self._key is not None  # noqa: S101 (checked by the caller)
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, given = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self._key)
        return False

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or ``None`` as soon as it is known to be over the limit."""
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self._max_body:
                return None
        pieces: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left while sending
                return b""
            piece = message.get("body", b"")
            size += len(piece)
            if size > self._max_body:
                return None
            pieces.append(piece)
            if not message.get("more_body", False):
                return b"".join(pieces)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then what the client sends next (its leaving)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def send_error(send: Send, error: OpenAIError) -> None:
    """Answer with ``error`` in OpenAI's shape (plain ASGI, for what runs before the app)."""
    payload = json.dumps(error.body()).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in error.headers.items()),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
