"""Work that a client leaving cancels, and the server-sent event stream built on it.

A client that goes away (a closed tab, a stopped agent, a ``break`` out of a stream) must not
leave a reply running upstream. So every wait on the playground runs beside a watch on the
client's connection: the first to end decides. When the client left first, the work is
cancelled, which closes the client's reply stream and with it the WebSocket or the HTTP
response upstream, at once rather than at the next chunk.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.responses import Response

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine

    from starlette.types import Receive, Scope, Send

__all__ = ["ClientGone", "EventStream", "unless_disconnected"]

T = TypeVar("T")


class ClientGone(Exception):  # noqa: N818 (an event, not a failure of ours)
    """The client disconnected before the work was done; the work was cancelled."""


async def unless_disconnected(receive: Receive, work: Coroutine[Any, Any, T]) -> T:
    """``work``'s result, unless the client disconnects first: then it is cancelled.

    Also cancelled, and waited for, when the caller is (a shutdown past its grace period).

    Raises:
        ClientGone: the client left first.
    """
    task = asyncio.create_task(work)
    watch = asyncio.create_task(_disconnected(receive))
    try:
        await asyncio.wait((task, watch), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        if not task.done():
            task.cancel()
        # The work's own closing (the upstream stream's) is over before this returns.
        await asyncio.gather(task, watch, return_exceptions=True)
    if task.cancelled():
        raise ClientGone
    return task.result()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class EventStream(Response):
    """A ``text/event-stream`` response that ``produce`` writes, cancelled if the client leaves.

    ``on_close`` runs once the stream is over, however it ended (it gives back the
    conversation's place).
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        produce: Callable[[Callable[[bytes], Awaitable[None]]], Coroutine[Any, Any, None]],
        on_close: Callable[[], None],
    ) -> None:
        """A stream that ``produce(write)`` fills."""
        # As StreamingResponse does: no body, so no Content-Length.
        self.status_code = 200
        self.background = None
        self.init_headers({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self._produce = produce
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: ARG002
        """Send the headers, then what ``produce`` writes, until it ends or the client leaves."""
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})

            async def write(data: bytes) -> None:
                await send({"type": "http.response.body", "body": data, "more_body": True})

            try:
                await unless_disconnected(receive, self._produce(write))
            except ClientGone:
                return  # nothing more to send to no one
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self._on_close()
