"""Closing a client's resources off the caller's time, and with the event loop they live on."""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable, Coroutine

__all__ = ["Cleanup"]

# Yields to the loop before closing, so streams the caller abandoned without closing them (a
# ``break`` out of ``async for``) are finalised first and their own closes are waited for.
_FINALISER_TURNS = 5


class Cleanup:
    """The closes one client still owes: some running in the background, some due at loop end."""

    def __init__(self) -> None:
        """Nothing owed yet."""
        self.background_closes: set[asyncio.Task[None]] = set()
        self._at_loop_end: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, list[AsyncGenerator[None, None]]
        ] = weakref.WeakKeyDictionary()

    def in_background(self, close: Callable[[], Coroutine[object, object, None]]) -> None:
        """Run ``close`` off the caller's time; :meth:`aclose` waits for it."""
        task = asyncio.get_running_loop().create_task(close())
        self.background_closes.add(task)
        task.add_done_callback(self.background_closes.discard)

    async def with_loop(self, close: Callable[[], Coroutine[object, object, None]]) -> None:
        """Run ``close`` when the running loop shuts down, or at :meth:`aclose` if that is first.

        ``asyncio.run`` (and the sync twins' background loop) finalise every live async
        generator before closing the loop, so a generator's ``finally`` runs inside the loop
        while it can still close sockets and stop processes.
        """
        closer = _run_when_finalised(close)
        self._at_loop_end.setdefault(asyncio.get_running_loop(), []).append(closer)
        await anext(closer)

    async def aclose(self) -> None:
        """Finish the running loop's background closes, then its closes due at loop end."""
        loop = asyncio.get_running_loop()
        for _ in range(_FINALISER_TURNS):
            await asyncio.sleep(0)
        closing = [task for task in self.background_closes if task.get_loop() is loop]
        if closing:
            await asyncio.gather(*closing, return_exceptions=True)
        for closer in self._at_loop_end.pop(loop, []):
            await closer.aclose()


async def _run_when_finalised(
    close: Callable[[], Coroutine[object, object, None]],
) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await close()
