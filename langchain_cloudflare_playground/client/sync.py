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
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Iterator, Sequence

__all__ = ["BackgroundLoop"]

T = TypeVar("T")
# Stopping waits this long for running calls to end and for the thread to finish.
_STOP_SECONDS = 10.0
# Items a sync iteration may read ahead of its caller before the reading waits.
_READ_AHEAD = 4096


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
        return self.iterate_batches(_singles(stream))

    def iterate_batches(self, batches: AsyncIterator[Sequence[T]]) -> Iterator[T]:
        """The items of an async iterator of batches, one at a time, from sync code.

        A task on the loop reads ahead and the caller's thread takes whatever has arrived in one
        crossing: a crossing per item would cost more than the item. Reading ahead stops at
        ``_READ_AHEAD`` items untaken. If the caller stops early the task is cancelled (as an
        async caller's task would be) and the iterator closed before this returns.
        """
        loop = self._ensure_started()
        handover: _Handover[T] = _Handover(loop)
        pumping = asyncio.run_coroutine_threadsafe(handover.pump(batches), loop)
        pumping.add_done_callback(lambda _: handover.finish())
        try:
            while True:
                taken = handover.take()
                if not taken:  # nothing left: the pump has ended, with its result or error
                    pumping.result()
                    return
                yield from taken
        finally:
            if not pumping.done() and loop.is_running():
                self.run(handover.stop())

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


async def _singles(stream: AsyncIterator[T]) -> AsyncGenerator[tuple[T], None]:
    """Each item of ``stream`` as a batch of one, closing ``stream`` when closed."""
    try:
        async for item in stream:
            yield (item,)
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


class _Handover(Generic[T]):
    """Items read on the loop thread and not yet taken by the caller's thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._ready = threading.Condition(threading.Lock())
        self._items: list[T] = []
        self._finished = False
        self._waiting = False  # the pump waits for room, under the lock
        self._room = asyncio.Event()  # set on the loop thread only
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    async def pump(self, batches: AsyncIterator[Sequence[T]]) -> None:
        """Read ``batches`` into the buffer until they end (runs on the loop)."""
        self._task = asyncio.current_task()
        try:
            if self._stopped:
                return
            async for batch in batches:
                with self._ready:
                    self._items.extend(batch)
                    self._ready.notify()
                    full = len(self._items) >= _READ_AHEAD
                    if full:
                        self._waiting = True
                        self._room.clear()
                if full:
                    await self._room.wait()
        finally:
            aclose = getattr(batches, "aclose", None)
            if aclose is not None:
                await aclose()

    def finish(self) -> None:
        """The pump has ended (any thread): wake the caller for the rest and the outcome."""
        with self._ready:
            self._finished = True
            self._ready.notify()

    def take(self) -> list[T]:
        """Everything that has arrived, waiting for something; empty once the pump has ended."""
        with self._ready:
            while not self._items and not self._finished:
                self._ready.wait()
            taken, self._items = self._items, []
            if self._waiting:
                self._waiting = False
                self._loop.call_soon_threadsafe(self._room.set)
        return taken

    async def stop(self) -> None:
        """Cancel the pump and wait for it to close its iterator (runs on the loop)."""
        self._stopped = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])
