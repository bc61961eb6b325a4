"""The site session: what makes a request look like it came from the user's browser."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from http.cookies import Morsel, SimpleCookie

__all__ = ["SiteSession", "default_site_session"]

# A current desktop Chrome; the client hints below must agree with it.
_CHROME_MAJOR = "156"
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
    f" Chrome/{_CHROME_MAJOR}.0.0.0 Safari/537.36"
)


@dataclass(frozen=True, slots=True)
class SiteSession:
    """Cookies, user agent and headers sent with every request.

    The ``repr`` names cookies and headers but never shows their values: they may be the only
    thing that gets a request past the site's bot protection, and they end up in logs.

    Attributes:
        user_agent: The ``User-Agent`` header.
        headers: Other headers a browser would send (``Accept``, ``Origin``, client hints...).
        cookies: Cookie names to values.
        cookie_expiries: Unix time each cookie expires, for cookies that expire.
        source: Where the session came from: ``"defaults"`` or ``"browser"``.
    """

    user_agent: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    cookies: Mapping[str, str] = field(default_factory=dict, repr=False)
    cookie_expiries: Mapping[str, float] = field(default_factory=dict, repr=False)
    source: str = "defaults"

    def __repr__(self) -> str:
        """Show what is there, never the values."""
        return (
            f"SiteSession(source={self.source!r}, user_agent={self.user_agent!r},"
            f" headers={sorted(self.headers)}, cookies={sorted(self.cookies)},"
            f" expires_at={self.expires_at!r})"
        )

    __str__ = __repr__

    @property
    def expires_at(self) -> float | None:
        """When the last cookie runs out; ``None`` if a cookie lasts the session, or none is set."""
        if not self.cookies or any(name not in self.cookie_expiries for name in self.cookies):
            return None
        return max(self.cookie_expiries[name] for name in self.cookies)

    def is_expired(self, now: float | None = None) -> bool:
        """Whether every cookie has run out, so the session is worth nothing any more."""
        expires_at = self.expires_at
        return expires_at is not None and expires_at <= (time.time() if now is None else now)

    def without_expired_cookies(self, now: float | None = None) -> SiteSession:
        """This session without the cookies that have run out (the others stay)."""
        current = time.time() if now is None else now
        expired = {name for name, when in self.cookie_expiries.items() if when <= current}
        if not expired:
            return self
        return replace(
            self,
            cookies=MappingProxyType({k: v for k, v in self.cookies.items() if k not in expired}),
            cookie_expiries=MappingProxyType(
                {k: v for k, v in self.cookie_expiries.items() if k not in expired}
            ),
        )

    def request_headers(self) -> dict[str, str]:
        """The headers for one request, with the cookies in a ``Cookie`` header."""
        headers = {**self.headers, "User-Agent": self.user_agent}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        return headers

    def with_set_cookies(self, set_cookies: SimpleCookie, now: float | None = None) -> SiteSession:
        """This session updated with the cookies a response set, refreshed or deleted."""
        current = time.time() if now is None else now
        cookies = dict(self.cookies)
        expiries = dict(self.cookie_expiries)
        for name, morsel in set_cookies.items():
            expires = _morsel_expiry(morsel, current)
            if expires is not None and expires <= current:  # the server deletes it
                cookies.pop(name, None)
                expiries.pop(name, None)
                continue
            cookies[name] = morsel.value
            if expires is None:
                expiries.pop(name, None)  # now a session cookie
            else:
                expiries[name] = expires
        return replace(
            self,
            cookies=MappingProxyType(cookies),
            cookie_expiries=MappingProxyType(expiries),
        )

    def merged(
        self,
        *,
        user_agent: str | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
    ) -> SiteSession:
        """This session with the caller's own values laid over them."""
        return replace(
            self,
            user_agent=user_agent or self.user_agent,
            headers=MappingProxyType({**self.headers, **(headers or {})}),
            cookies=MappingProxyType({**self.cookies, **(cookies or {})}),
        )


def _morsel_expiry(morsel: Morsel[str], now: float) -> float | None:
    if morsel["max-age"]:
        try:
            return now + int(morsel["max-age"])
        except ValueError:
            return None
    if morsel["expires"]:
        try:
            return parsedate_to_datetime(morsel["expires"]).timestamp()
        except (TypeError, ValueError):
            return None
    return None


def browser_request_headers(base_url: str, client_hints: Mapping[str, str]) -> dict[str, str]:
    """The headers a page of ``base_url`` sends with a ``fetch`` to its own API."""
    origin = base_url.rstrip("/")
    return {
        "Accept": "*/*",
        "Accept-Language": "en-US,en;q=0.9",
        "Origin": origin,
        "Referer": f"{origin}/",
        **client_hints,
        "sec-fetch-dest": "empty",
        "sec-fetch-mode": "cors",
        "sec-fetch-site": "same-origin",
    }


def default_site_session(base_url: str) -> SiteSession:
    """Browser-like headers for ``base_url``, used when no browser session is at hand."""
    hints = {
        "sec-ch-ua": (
            f'"Chromium";v="{_CHROME_MAJOR}", "Google Chrome";v="{_CHROME_MAJOR}",'
            ' "Not_A Brand";v="99"'
        ),
        "sec-ch-ua-mobile": "?0",
        "sec-ch-ua-platform": '"Linux"',
    }
    return SiteSession(
        user_agent=DEFAULT_USER_AGENT,
        headers=MappingProxyType(browser_request_headers(base_url, hints)),
    )
