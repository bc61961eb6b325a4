"""Where the client gets its session args: the caller, the cache, or a session source."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from langchain_cloudflare_playground.client.sessions.args import SessionArgs, default_session_args

if TYPE_CHECKING:
    from collections.abc import Mapping
    from http.cookies import SimpleCookie

    from langchain_cloudflare_playground.client.sessions.cache import SessionCache

__all__ = ["DefaultHeadersSource", "SessionSource", "SessionStore"]

logger = logging.getLogger("langchain_cloudflare_playground")


class SessionSource(Protocol):
    """Produces fresh session args for a base URL (browser-like defaults, or a real browser)."""

    async def acquire(self, base_url: str) -> SessionArgs:
        """Fresh args for ``base_url``."""
        ...


class DefaultHeadersSource:
    """Browser-like default headers and no cookies: the path that needs no browser."""

    async def acquire(self, base_url: str) -> SessionArgs:
        """Default args for ``base_url``."""
        return default_session_args(base_url)


class SessionStore:
    """Holds one base URL's session args: from memory, else the cache, else the source.

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
        """Serve ``base_url``; the caller's ``user_agent``/``headers``/``cookies`` always win."""
        self._base_url = base_url
        self._source = source or DefaultHeadersSource()
        self._cache = cache
        self._overrides = {"user_agent": user_agent, "headers": headers, "cookies": cookies}
        self._current: SessionArgs | None = None

    def __repr__(self) -> str:
        """Never show the args themselves."""
        return f"SessionStore(base_url={self._base_url!r}, cache={self._cache!r})"

    async def get(self) -> SessionArgs:
        """The args to send now."""
        if self._current is not None and not self._current.is_expired():
            return self._current
        args = self._cache.load(self._base_url) if self._cache is not None else None
        if args is None:
            args = await self._source.acquire(self._base_url)
            if args.cookies:
                self._save(args)
        self._current = args.merged(**self._overrides)  # type: ignore[arg-type]
        return self._current

    def update_cookies(self, set_cookies: SimpleCookie) -> None:
        """Fold in the cookies a response set; persist them if anything changed."""
        if not set_cookies or self._current is None:
            return
        updated = self._current.with_set_cookies(set_cookies)
        if updated.cookies != self._current.cookies:
            self._current = updated
            self._save(updated)

    def invalidate(self) -> None:
        """Forget the current args, in memory and in the cache, so the next call gets fresh ones."""
        self._current = None
        if self._cache is not None:
            self._cache.clear(self._base_url)

    def _save(self, args: SessionArgs) -> None:
        if self._cache is not None:
            self._cache.save(self._base_url, args)
