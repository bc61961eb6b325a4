"""Where the client gets its site session: the caller, the cache, or a session source."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from typing import TYPE_CHECKING, Protocol

from langchain_cloudflare_playground.client.errors import PlaygroundError
from langchain_cloudflare_playground.client.sessions.site_session import (
    SiteSession,
    default_site_session,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from http.cookies import SimpleCookie

    from langchain_cloudflare_playground.client.sessions.cache import SessionCache
    from langchain_cloudflare_playground.client.transport_ladder import Rung
    from langchain_cloudflare_playground.client.wire_formats.agents_frames import SettingsWay

__all__ = ["DefaultHeadersSource", "SessionSource", "SessionStore"]

logger = logging.getLogger("langchain_cloudflare_playground")


class SessionSource(Protocol):
    """Produces a fresh site session for a base URL (browser-like defaults, or a real browser).

    A source may also have ``note_refusal(base_url)``: the store calls it when the site refused
    a session, before asking for a fresh one.
    """

    async def acquire(self, base_url: str) -> SiteSession:
        """A fresh session for ``base_url``."""
        ...


class DefaultHeadersSource:
    """Browser-like default headers and no cookies: the path that needs no browser."""

    async def acquire(self, base_url: str) -> SiteSession:
        """The default session for ``base_url``."""
        return default_site_session(base_url)


class SessionStore:
    """Holds one base URL's site session: from memory, else the cache, else the source.

    Cookies set by the server are folded in and written back, so the next request (and the next
    process) sends them as a browser would.
    """

    def __init__(  # noqa: PLR0913 (keyword-only configuration)
        self,
        base_url: str,
        *,
        source: SessionSource | None = None,
        cache: SessionCache | None = None,
        user_agent: str | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
    ) -> None:
        """Serve ``base_url``; the caller's ``user_agent``/``headers``/``cookies`` always win.

        The caller's values are laid over the session when sending and never written to the
        cache, which other programs of the same user read.
        """
        self._base_url = base_url
        self._source = source or DefaultHeadersSource()
        self._cache = cache
        self._user_agent = user_agent
        self._headers = dict(headers or {})
        self._cookies = dict(cookies or {})
        self._session: SiteSession | None = None  # the site's session, as cached
        # One acquisition at a time per store, shared by every caller on every event loop (the
        # sync twins run on their own): fifty cold calls launch one browser, not fifty.
        self._lock = threading.Lock()
        self._acquiring: concurrent.futures.Future[SiteSession] | None = None
        self.acquisitions = 0  # how many times the source was asked, for diagnostics
        self.generation = 0  # changes whenever the session is replaced or dropped

    def __repr__(self) -> str:
        """Never show the session itself."""
        return f"SessionStore(base_url={self._base_url!r}, cache={self._cache!r})"

    async def get(self) -> SiteSession:
        """The session to send now: the session, less expired cookies, under the caller's own."""
        session = self._session
        if session is None or session.is_expired():
            session = self._cache.load(self._base_url) if self._cache is not None else None
            if session is None:
                session = await self._acquire_once()
        self._session = session = session.without_expired_cookies()
        return session.merged(
            user_agent=self._user_agent, headers=self._headers, cookies=self._cookies
        )

    async def _acquire_once(self) -> SiteSession:
        """Ask the source, or wait for the acquisition another caller already started."""
        with self._lock:
            pending = self._acquiring
            if pending is None:
                pending = self._acquiring = concurrent.futures.Future()
                owner = True
            else:
                owner = False
        if not owner:
            # Shielded: one waiter being cancelled must not cancel the others' acquisition.
            return await asyncio.shield(asyncio.wrap_future(pending))
        try:
            self.acquisitions += 1
            session = await self._source.acquire(self._base_url)
            if session.cookies:
                self._save(session)
        except BaseException as exc:
            if not pending.done():
                pending.set_exception(exc if isinstance(exc, Exception) else _interrupted())
            raise
        else:
            self._session = session
            self.generation += 1
            if not pending.done():
                pending.set_result(session)
            return session
        finally:
            with self._lock:
                self._acquiring = None

    def update_cookies(self, set_cookies: SimpleCookie) -> None:
        """Fold in the cookies a response set; persist them if anything changed."""
        if not set_cookies or self._session is None:
            return
        updated = self._session.with_set_cookies(set_cookies)
        if updated != self._session:
            self._session = updated
            self._save(updated)

    def invalidate(self, *, generation: int | None = None) -> None:
        """Forget a session the site refused, in memory and on disk; the next call gets another.

        With ``generation`` (the :attr:`generation` a refused call ran with), a session that was
        already replaced since is kept: several calls refused together cost one fresh session.
        """
        if generation is not None and generation != self.generation:
            return
        note_refusal = getattr(self._source, "note_refusal", None)
        if note_refusal is not None:
            note_refusal(self._base_url)
        self._session = None
        self.generation += 1
        if self._cache is not None:
            self._cache.clear(self._base_url)

    def remembered_transport(self) -> Rung | None:
        """The transport rung that last worked for the site, while the cache remembers it."""
        if self._cache is None:
            return None
        remembered = self._cache.load_transport(self._base_url)
        return None if remembered is None else remembered.rung

    def remember_transport(self, rung: Rung) -> None:
        """Remember ``rung`` for the site, so the next process starts on it."""
        if self._cache is not None:
            self._cache.save_transport(self._base_url, rung)

    def remembered_settings_way(self) -> SettingsWay | None:
        """How the site's rooms take their settings, while the cache remembers it."""
        return None if self._cache is None else self._cache.load_settings_way(self._base_url)

    def remember_settings_way(self, way: SettingsWay) -> None:
        """Remember how the site's rooms take their settings, for the next process."""
        if self._cache is not None:
            self._cache.save_settings_way(self._base_url, way)

    def forget_settings_way(self) -> None:
        """Forget how the site's rooms took their settings: they no longer do."""
        if self._cache is not None:
            self._cache.forget_settings_way(self._base_url)

    def _save(self, args: SiteSession) -> None:
        if self._cache is not None:
            self._cache.save(self._base_url, args)


def _interrupted() -> Exception:
    return PlaygroundError("the session acquisition this call waited for was interrupted")
