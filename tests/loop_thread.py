"""A test server that runs its own event loop in a thread of its own.

The reference server and the TLS edge serve from a thread, so a test (sync or async) can start
one, talk to it over loopback and stop it. Starting, stopping and the context manager are the
same for both and live here; each server writes only ``_main``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Self

__all__ = ["LoopThreadServer"]


class LoopThreadServer:
    """Start, stop and ``with`` for a server whose ``_main`` runs on a loop in its own thread.

    ``_main(started)`` listens, sets ``started`` (after setting ``_startup_error`` if it could
    not listen), then serves until ``_stopping`` is set.
    """

    name = "the server"
    stop_seconds = 10.0

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._startup_error: BaseException | None = None

    def start(self) -> Self:
        """Start serving; returns once the port accepts connections.

        Raises:
            OSError: the port cannot be listened on (what ``_main`` met).
            RuntimeError: the server did not start within 10 s.
        """
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(started,), daemon=True)
        self._thread.start()
        if not started.wait(10):
            msg = f"{self.name} did not start within 10 s"
            raise RuntimeError(msg)
        if self._startup_error is not None:
            self._thread.join(10)
            raise self._startup_error
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(self.stop_seconds)
            if self._thread.is_alive():
                msg = f"{self.name} did not stop within {self.stop_seconds:g} s"
                raise RuntimeError(msg)

    def __enter__(self) -> Self:
        """Start on entering ``with``."""
        return self.start()

    def __exit__(self, *_: object) -> None:
        """Stop on leaving ``with``."""
        self.stop()

    def _serve(self, started: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(started))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self, started: threading.Event) -> None:
        raise NotImplementedError
