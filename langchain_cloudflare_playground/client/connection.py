"""What every dialect needs to reach the playground: the URL, the session, and aiohttp sessions.

One aiohttp session per event loop, reused across calls and closed with its loop, and a record of
the closes still running in the background.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from types import MethodType
from typing import TYPE_CHECKING

import aiohttp

from langchain_cloudflare_playground.client.transports.cassette import unrecorded_request

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable, Coroutine

    from langchain_cloudflare_playground.client.sessions import SessionStore

__all__ = ["Connection"]

# Yields to the loop before closing, so streams the caller abandoned without closing them (a
# ``break`` out of ``async for``) are finalised first and their own closes are waited for.
_FINALISER_TURNS = 5


@dataclass(frozen=True, slots=True)
class _LoopSession:
    """One event loop's aiohttp session, and the generator that closes it with the loop."""

    session: aiohttp.ClientSession
    closer: AsyncGenerator[None, None]


class Connection:
    """The networking context of one client, shared by its dialects."""

    def __init__(  # noqa: PLR0913 (keyword-only configuration)
        self,
        base_url: str,
        *,
        sessions: SessionStore,
        proxy: str | None,
        timeout: float,
        max_connections: int,
        total_timeout: float | None = None,
    ) -> None:
        """Reach ``base_url``; nothing connects until a dialect asks for a session."""
        self.base_url = base_url
        self.sessions = sessions
        self.proxy = proxy
        self.timeout = timeout
        self.total_timeout = total_timeout
        self.max_connections = max_connections
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopSession] = (
            weakref.WeakKeyDictionary()
        )
        # Sessions for WebSocket upgrades under a VCR cassette (see ``transports.cassette``).
        self._unrecorded_by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, _LoopSession
        ] = weakref.WeakKeyDictionary()
        self.background_closes: set[asyncio.Task[None]] = set()
        self._loop_closers: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, list[AsyncGenerator[None, None]]
        ] = weakref.WeakKeyDictionary()

    async def http_session(self, *, unrecorded: bool = False) -> aiohttp.ClientSession:
        """The running loop's aiohttp session, created on first use.

        ``unrecorded`` gives a session whose requests bypass vcrpy's patch, for the WebSocket
        upgrades whose frames the cassette bridge records itself.
        """
        loop = asyncio.get_running_loop()
        registry = self._unrecorded_by_loop if unrecorded else self._by_loop
        _forget_closed_loops(registry)
        entry = registry.get(loop)
        if entry is not None and not entry.session.closed:
            return entry.session
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.max_connections),
            timeout=aiohttp.ClientTimeout(
                # Waiting for a free pooled connection is not the server's silence: the TCP
                # connect and the gaps between bytes are bounded, and the whole request by the
                # total budget alone.
                total=self.total_timeout,
                connect=None,
                sock_connect=self.timeout,
                sock_read=self.timeout,
            ),
            # Cookies live in the session store, the one place that persists them.
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        if unrecorded:
            object.__setattr__(session, "_request", MethodType(unrecorded_request(), session))
        loop_ref = weakref.ref(loop)
        entry = _LoopSession(session, _close_when_the_loop_ends(session, registry, loop_ref))
        registry[loop] = entry
        await anext(entry.closer)
        return session

    async def close_with_loop(self, close: Callable[[], Coroutine[object, object, None]]) -> None:
        """Run ``close`` when the running loop shuts down, if nothing ran it before."""
        closer = _run_when_the_loop_ends(close)
        self._loop_closers.setdefault(asyncio.get_running_loop(), []).append(closer)
        await anext(closer)

    def close_in_background(self, close: Callable[[], Coroutine[object, object, None]]) -> None:
        """Run ``close`` off the caller's time; :meth:`aclose` waits for it."""
        task = asyncio.get_running_loop().create_task(close())
        self.background_closes.add(task)
        task.add_done_callback(self.background_closes.discard)

    async def aclose(self) -> None:
        """Finish the running loop's background closes, then close its sessions."""
        loop = asyncio.get_running_loop()
        for _ in range(_FINALISER_TURNS):
            await asyncio.sleep(0)
        closing = [task for task in self.background_closes if task.get_loop() is loop]
        if closing:
            await asyncio.gather(*closing, return_exceptions=True)
        for closer in self._loop_closers.pop(loop, []):
            await closer.aclose()
        for registry in (self._by_loop, self._unrecorded_by_loop):
            entry = registry.pop(loop, None)
            if entry is not None:
                await entry.closer.aclose()

    def forget_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Drop ``loop``'s sessions from the registry (their closers run when the loop ends)."""
        self._by_loop.pop(loop, None)
        self._unrecorded_by_loop.pop(loop, None)


async def _run_when_the_loop_ends(
    close: Callable[[], Coroutine[object, object, None]],
) -> AsyncGenerator[None, None]:
    """Run ``close`` when this generator is finalised (see :func:`_close_when_the_loop_ends`)."""
    try:
        yield
    finally:
        await close()


def _forget_closed_loops(
    registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopSession],
) -> None:
    """Drop sessions whose loop was closed without finalising them (``loop.close()`` alone).

    Their sockets went with the loop; detaching marks the session closed, so nothing warns.
    """
    for ended in [loop for loop in registry if loop.is_closed()]:
        registry.pop(ended).session.detach()


async def _close_when_the_loop_ends(
    session: aiohttp.ClientSession,
    registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopSession],
    loop: weakref.ref[asyncio.AbstractEventLoop],
) -> AsyncGenerator[None, None]:
    """Close ``session`` when its loop shuts down, even if the caller never closed the client.

    ``asyncio.run`` (and the sync twins' background loop) finalise every live async generator
    before closing the loop, so this ``finally`` runs inside the loop while it can still close
    sockets: a client used across several ``asyncio.run`` calls leaks nothing. The loop is held
    weakly, so a loop closed without that step can still be collected.
    """
    try:
        yield
    finally:
        ended = loop()
        if ended is not None:
            registry.pop(ended, None)
        await session.close()
