"""The page the in-page relay opens WebSockets from: a real browser kept on the playground.

For when the site refuses a direct upgrade even with a browser's cookies (the live edge judges
the TLS handshake itself). This module drives Chromium; the transport that relays frames through
the page is ``transports.browser_relay``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from langchain_cloudflare_playground.client.browser.chromium import (
    INSTALL_ADVICE,
    BrowserUnavailableError,
    Chromium,
    find_browser,
    import_nodriver,
)
from langchain_cloudflare_playground.client.browser.session_source import (
    open_page,
    present_as_regular_chrome,
    settled_cookies,
    wait_past_challenge,
)

__all__ = ["BrowserRelay"]

logger = logging.getLogger("langchain_cloudflare_playground")


class BrowserRelay:
    """A browser kept open on the playground page, for WebSockets opened from it.

    Started on first use and kept while the client lives; :meth:`aclose` stops it.
    """

    def __init__(
        self,
        base_url: str,
        *,
        executable: str | None = None,
        deadline: float = 60.0,
        verify: bool | str = True,
    ) -> None:
        """Relay for the playground at ``base_url``; its page trusts what ``verify`` trusts."""
        self._base_url = base_url.rstrip("/")
        self._executable = executable
        self._deadline = deadline
        self._verify = verify
        self._chromium: Chromium | None = None
        self._starting = asyncio.Lock()

    async def ready_page(self) -> Any:  # noqa: ANN401 (nodriver's Tab, untyped)
        """The browser tab on the playground, started or restarted as needed."""
        return (await self._ready_browser()).tab

    async def _ready_browser(self) -> Chromium:
        async with self._starting:
            current = self._chromium
            if current is not None:
                if current.alive and await self._still_on_the_playground(current):
                    return current
                # The browser died or its page went elsewhere: start again.
                self._chromium = None
                await current.stop()
            executable = find_browser(self._executable)
            if executable is None:
                msg = f"the WebSocket needs a browser page, and none was found; {INSTALL_ADVICE}"
                raise BrowserUnavailableError(msg)
            chromium = Chromium(executable, deadline=self._deadline, verify=self._verify)
            try:
                await chromium.start()
                await asyncio.wait_for(self._open_the_playground(chromium), self._deadline)
            except BaseException:
                await chromium.stop()
                raise
            logger.info("Relaying WebSockets through a browser page on %s", self._base_url)
            self._chromium = chromium
            return chromium

    async def _open_the_playground(self, chromium: Chromium) -> None:
        await present_as_regular_chrome(chromium.tab)
        await open_page(chromium.tab, f"{self._base_url}/")
        await wait_past_challenge(chromium.tab, self._base_url, self._deadline)
        # The page's scripts may still be setting cookies the upgrade needs.
        await settled_cookies(chromium.tab, self._base_url, self._deadline)

    async def _still_on_the_playground(self, chromium: Chromium) -> bool:
        cdp = import_nodriver().cdp
        expression = cdp.runtime.evaluate(expression="location.href", return_by_value=True)
        try:
            result, exception = await asyncio.wait_for(chromium.tab.send(expression), 5.0)
        except Exception:  # noqa: BLE001 (a page that cannot answer is not usable)
            return False
        return exception is None and str(result.value).startswith(self._base_url)

    async def aclose(self) -> None:
        """Stop the browser."""
        chromium, self._chromium = self._chromium, None
        if chromium is not None:
            await chromium.stop()
