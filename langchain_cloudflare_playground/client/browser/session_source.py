"""Site sessions from a real browser: open the playground, get past the challenge, take cookies."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from langchain_cloudflare_playground.client.browser.chromium import (
    INSTALL_ADVICE,
    BrowserUnavailableError,
    Chromium,
    find_browser,
    import_nodriver,
)
from langchain_cloudflare_playground.client.errors import (
    ChallengeError,
    PlaygroundConnectionError,
    untrusted_certificate,
)
from langchain_cloudflare_playground.client.extras import is_installed
from langchain_cloudflare_playground.client.sessions.site_session import (
    SiteSession,
    browser_request_headers,
    default_site_session,
)
from langchain_cloudflare_playground.client.sessions.store import (
    DefaultHeadersSource,
    SessionSource,
)

__all__ = [
    "BrowserSessionSource",
    "BrowserWhenRefusedSource",
    "BrowserWithFallbackSource",
    "default_session_source",
    "user_agent_for",
]

BROWSER_ENV = "CF_PLAYGROUND_BROWSER"
_OFF = ("0", "false", "no", "never", "off")

logger = logging.getLogger("langchain_cloudflare_playground")

# Chromium's net errors for a certificate it refuses (net/base/net_error_list.h, -200 to -299).
_CERTIFICATE_ERRORS = ("net::ERR_CERT_", "net::ERR_SSL_PINNED_KEY", "net::ERR_CERTIFICATE_")
_CHALLENGE_TITLES = ("Just a moment", "Attention Required")
_POLL_SECONDS = 0.1
# Pages set cookies by script after they load; the jar must stay unchanged this long.
_COOKIES_SETTLE_SECONDS = 0.6


@dataclass
class BrowserSessionSource:
    """Acquires site sessions with a real Chromium, through nodriver.

    Headless by default, with a user agent and client hints of a regular Chrome (no
    "HeadlessChrome"); ``headless=False`` shows the window, for a person who must click
    through a challenge once. The browser is stopped and its profile removed however the
    acquisition ends.

    Attributes:
        executable: The browser to run; ``$CHROME_PATH`` or the usual names on PATH if unset.
        headless: Run without a window.
        deadline: Seconds allowed to get past the challenge page, and for each start-up step.
        verify: The server certificates the page trusts, as the client's ``verify`` option:
            ``True`` the system's (and ``$SSL_CERT_FILE``'s CAs), a path that PEM file's CAs,
            ``False`` any.
    """

    executable: str | None = None
    headless: bool = True
    deadline: float = 60.0
    verify: bool | str = True

    async def acquire(self, base_url: str) -> SiteSession:
        """Open ``base_url`` in a fresh browser and take its session."""
        executable = find_browser(self.executable)
        if executable is None:
            msg = f"no Chrome or Chromium found for a browser session; {INSTALL_ADVICE}"
            raise BrowserUnavailableError(msg)
        started = time.monotonic()
        async with Chromium(
            executable, headless=self.headless, deadline=self.deadline, verify=self.verify
        ) as chrome:
            try:
                # One deadline over every step: a page that never answers counts too.
                user_agent, hints, cookies = await asyncio.wait_for(
                    _open_and_collect(chrome.tab, base_url, self.deadline), self.deadline
                )
            except TimeoutError as exc:
                msg = (
                    f"the browser did not get through the playground's page within"
                    f" {self.deadline:g} s; try once with a visible browser:"
                    " cf-playground session refresh --headful"
                )
                raise ChallengeError(msg, status=None) from exc
        logger.info(
            "Browser session for %s in %.1f s (%d cookies)",
            base_url,
            time.monotonic() - started,
            len(cookies),
        )
        return SiteSession(
            user_agent=user_agent,
            headers=MappingProxyType(browser_request_headers(base_url, hints)),
            cookies=MappingProxyType({c.name: c.value for c in cookies}),
            cookie_expiries=MappingProxyType(
                {c.name: float(c.expires) for c in cookies if not c.session and c.expires > 0}
            ),
            source="browser",
        )


async def _open_and_collect(
    tab: Any,  # noqa: ANN401
    base_url: str,
    deadline: float,
) -> tuple[str, dict[str, str], list[Any]]:
    user_agent, hints = await present_as_regular_chrome(tab)
    await open_page(tab, f"{base_url.rstrip('/')}/")
    await wait_past_challenge(tab, base_url, deadline)
    cookies = await settled_cookies(tab, base_url, deadline)
    return user_agent, hints, cookies


def user_agent_for(product: str) -> tuple[str, str, str]:
    """A regular desktop Chrome's user agent for a browser version such as "Chrome/156.0.1.2".

    Returns the user agent, the major version and the full version.
    """
    match = re.search(r"Chrome/(\d+)(\.[\d.]+)?", product)
    major = match.group(1) if match else "156"
    full = f"{major}{match.group(2) or '.0.0.0'}" if match else "156.0.0.0"
    user_agent = (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
        f" Chrome/{major}.0.0.0 Safari/537.36"
    )
    return user_agent, major, full


async def present_as_regular_chrome(tab: Any) -> tuple[str, dict[str, str]]:  # noqa: ANN401
    """Override the headless user agent and client hints, consistently, before navigating.

    Returns the user agent and the client-hint headers a page request then carries.
    """
    cdp = import_nodriver().cdp
    version = await tab.send(cdp.browser.get_version())
    product = version[1] if isinstance(version, tuple) else str(version)
    user_agent, major, full = user_agent_for(product)
    brand = cdp.emulation.UserAgentBrandVersion
    metadata = cdp.emulation.UserAgentMetadata(
        platform="Linux",
        platform_version="",
        architecture="x86",
        model="",
        mobile=False,
        bitness="64",
        wow64=False,
        full_version=full,
        brands=[brand("Chromium", major), brand("Google Chrome", major), brand("Not)A;Brand", "8")],
        full_version_list=[
            brand("Chromium", full),
            brand("Google Chrome", full),
            brand("Not)A;Brand", "8.0.0.0"),
        ],
    )
    await tab.send(
        cdp.network.set_user_agent_override(
            user_agent=user_agent,
            accept_language="en-US,en",
            platform="Linux x86_64",
            user_agent_metadata=metadata,
        )
    )
    hints = {
        "sec-ch-ua": (f'"Chromium";v="{major}", "Google Chrome";v="{major}", "Not)A;Brand";v="8"'),
        "sec-ch-ua-mobile": "?0",
        "sec-ch-ua-platform": '"Linux"',
    }
    return user_agent, hints


async def open_page(tab: Any, url: str) -> None:  # noqa: ANN401
    """Navigate ``tab`` to ``url``; a page the browser could not load is an error at once.

    Raises:
        CertificateError: the browser does not trust the server's certificate.
        PlaygroundConnectionError: the page could not be loaded for another reason.
    """
    cdp = import_nodriver().cdp
    _, _, error, *_ = await tab.send(cdp.page.navigate(url=url))
    if not error:
        return
    if error.startswith(_CERTIFICATE_ERRORS):
        detail = f"{error} in the browser page"
        raise untrusted_certificate(detail)
    msg = f"the browser could not open {url}: {error}"
    raise PlaygroundConnectionError(msg)


async def wait_past_challenge(tab: Any, base_url: str, deadline: float) -> None:  # noqa: ANN401
    """Wait until the page on ``base_url`` is loaded and is not a challenge page."""
    end = time.monotonic() + deadline
    title: str | None = None
    while time.monotonic() < end:
        try:
            state = await asyncio.wait_for(
                _evaluate(tab, "[document.title, location.href, document.readyState]"),
                max(0.05, min(1.0, end - time.monotonic())),
            )
        except Exception:  # noqa: BLE001 (a navigation replaces the page under our feet)
            state = None
        if isinstance(state, list) and len(state) == 3:  # noqa: PLR2004
            title, href, ready = state
            if (
                isinstance(href, str)
                and href.startswith(base_url.rstrip("/"))
                and ready != "loading"
                and not any(marker in str(title) for marker in _CHALLENGE_TITLES)
            ):
                return
        await asyncio.sleep(_POLL_SECONDS)
    msg = (
        f"the browser was still on a challenge page after {deadline:g} s (title {title!r});"
        " try once with a visible browser: cf-playground session refresh --headful"
    )
    raise ChallengeError(msg, status=None)


async def settled_cookies(tab: Any, base_url: str, deadline: float) -> list[Any]:  # noqa: ANN401
    """The site's cookies (HttpOnly ones too), once scripts have stopped setting them."""
    cdp = import_nodriver().cdp
    end = time.monotonic() + deadline
    last: tuple[tuple[str, str], ...] | None = None
    stable_since = time.monotonic()
    origin = base_url.rstrip("/")
    # Cookies scoped to the API's paths count too, not just the page's.
    urls = [f"{origin}/", f"{origin}/api/", f"{origin}/agents/"]
    while True:
        cookies = await tab.send(cdp.network.get_cookies(urls=urls))
        current = tuple(sorted((c.name, c.value) for c in cookies))
        now = time.monotonic()
        if now >= end:
            return list(cookies)  # still changing at the deadline: take what there is
        if current != last:
            last, stable_since = current, now
        elif now - stable_since >= _COOKIES_SETTLE_SECONDS:
            return list(cookies)
        await asyncio.sleep(_POLL_SECONDS)


async def _evaluate(tab: Any, expression: str) -> Any:  # noqa: ANN401
    """The value of a JavaScript expression in the page (``None`` if it threw)."""
    cdp = import_nodriver().cdp
    result, exception = await tab.send(
        cdp.runtime.evaluate(expression=expression, return_by_value=True)
    )
    return None if exception is not None else result.value


@dataclass
class BrowserWithFallbackSource:
    """A browser session when one can be had; browser-like default headers when not.

    A missing or broken browser is logged, not raised: the client keeps working as it would
    without the ``browser`` extra. A challenge the browser could not get past is raised.
    """

    browser: BrowserSessionSource

    async def acquire(self, base_url: str) -> SiteSession:
        """Try the browser, then fall back to default headers."""
        try:
            return await self.browser.acquire(base_url)
        except ChallengeError:
            raise  # the browser works; the site is what refuses
        except Exception as exc:  # noqa: BLE001 (a broken browser must not break the client)
            logger.warning("No browser session (%s); using browser-like default headers", exc)
            return default_site_session(base_url)


@dataclass
class BrowserWhenRefusedSource:
    """Browser-like default headers until the site refuses them; a real browser after that.

    A browser costs seconds and memory, and many playgrounds (a local or self-hosted one) take
    plain clients: no browser is started, and nodriver not even imported, until a site has
    refused a session (the store reports it through :meth:`note_refusal`).
    """

    browser: BrowserWithFallbackSource
    _refused: set[str] = field(default_factory=set)

    def note_refusal(self, base_url: str) -> None:
        """``base_url`` refused a session: the next one comes from the browser."""
        self._refused.add(base_url)

    async def acquire(self, base_url: str) -> SiteSession:
        """Default headers first; the browser once ``base_url`` has refused a session."""
        if base_url in self._refused:
            return await self.browser.acquire(base_url)
        return default_site_session(base_url)


def default_session_source(
    *, browser: bool | None = None, verify: bool | str = True
) -> SessionSource:
    """What a client uses when given no session source.

    With ``browser=None``: browser-like default headers, and a real browser once the site has
    refused them, when nodriver is installed, a Chrome or Chromium is found and
    ``$CF_PLAYGROUND_BROWSER`` is not ``0``. ``browser=True`` always uses the browser;
    ``browser=False`` never starts one. The browser trusts what ``verify`` trusts.
    """
    if browser is None:
        if not browser_available(browser=None):
            return DefaultHeadersSource()
        source = BrowserSessionSource(verify=verify)
        return BrowserWhenRefusedSource(BrowserWithFallbackSource(source))
    return BrowserSessionSource(verify=verify) if browser else DefaultHeadersSource()


def browser_available(*, browser: bool | None = None) -> bool:
    """Whether a browser may be started: nodriver and a browser are here, and it is allowed.

    ``browser=False`` forbids it, ``True`` allows it; ``None`` follows ``$CF_PLAYGROUND_BROWSER``.
    """
    if browser is False:
        return False
    if browser is None and os.environ.get(BROWSER_ENV, "").strip().lower() in _OFF:
        return False
    return is_installed("nodriver") and find_browser() is not None
