"""Synchronous twins of async calls that work anywhere, even inside a running event loop.

A private event loop runs in a daemon thread and the sync methods hand their coroutines to it.
Unlike ``asyncio.run`` this works from a Jupyter cell (whose loop is already running) without
``nest_asyncio``, and unlike a new loop per call it keeps connections alive between calls.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import threading
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Coroutine, Iterator

__all__ = ["BackgroundLoop"]

T = TypeVar("T")
# Stopping waits this long for running calls to end and for the thread to finish.
_STOP_SECONDS = 10.0


class BackgroundLoop:
    """An event loop in a daemon thread, started on first use."""

    def __init__(self) -> None:
        """Create it stopped; nothing runs until the first call."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop, if it has been started."""
        return self._loop

    def run(self, coro: Coroutine[object, object, T]) -> T:
        """Run ``coro`` on the background loop and wait for its result."""
        future = asyncio.run_coroutine_threadsafe(coro, self._ensure_started())
        try:
            return future.result()
        except BaseException:
            future.cancel()  # a KeyboardInterrupt here must not leave the call running
            raise

    def iterate(self, stream: AsyncIterator[T]) -> Iterator[T]:
        """Iterate an async iterator from sync code, closing it if the caller stops early."""
        loop = self._ensure_started()
        try:
            while True:
                try:
                    yield self.run(_anext(stream))
                except StopAsyncIteration:
                    return
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None and loop.is_running():
                self.run(aclose())

    def stop(self) -> None:
        """Stop the loop and join its thread; a later call starts a new one."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        atexit.unregister(self.stop)
        # As asyncio.run does: cancel what still runs (a sync call on another thread then gets
        # CancelledError instead of waiting forever), then finalise async generators, which
        # closes what lives on this loop (the client's sessions).
        with contextlib.suppress(concurrent.futures.TimeoutError):
            asyncio.run_coroutine_threadsafe(_wind_down(), loop).result(_STOP_SECONDS)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_STOP_SECONDS)
        if not thread.is_alive():
            loop.close()

    def _ensure_started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                thread = threading.Thread(
                    target=_run_forever,
                    args=(loop, ready),
                    name="cf-playground-sync",
                    daemon=True,
                )
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
                # A client nobody closed (a LangChain model has no close) still closes its
                # connections when the interpreter exits.
                atexit.register(self.stop)
            return self._loop


def _run_forever(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(ready.set)
    loop.run_forever()


async def _wind_down() -> None:
    current = asyncio.current_task()
    running = [task for task in asyncio.all_tasks() if task is not current]
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()


async def _anext(stream: AsyncIterator[T]) -> T:
    return await stream.__anext__()
