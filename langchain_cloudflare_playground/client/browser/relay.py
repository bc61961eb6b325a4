"""The in-page relay: a WebSocket opened inside a real browser page, its frames relayed over CDP.

For when the site refuses a direct upgrade even with a browser's cookies (the live edge judges
the TLS handshake itself). Each frame reaches Python through a DevTools binding event, and goes
out through one ``Runtime.evaluate``; no polling. The relayed socket has the same interface as a
direct one, so the codec and everything above it are unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
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
    present_as_regular_chrome,
    settled_cookies,
    wait_past_challenge,
)
from langchain_cloudflare_playground.client.errors import (
    ChallengeError,
    PlaygroundConnectionError,
    PlaygroundTimeoutError,
)

__all__ = ["BrowserRelay", "RelayedAgentSocket"]

logger = logging.getLogger("langchain_cloudflare_playground")

# Runs in the page: open the socket and report every event through the binding, as JSON.
_OPEN_SOCKET = """
(() => {
  const report = globalThis[%(binding)s];
  const ws = new WebSocket(%(url)s);
  globalThis[%(handle)s] = ws;
  ws.onopen = () => report(JSON.stringify({t: "open"}));
  ws.onmessage = (e) => report(JSON.stringify({t: "frame", d: String(e.data)}));
  ws.onerror = () => report(JSON.stringify({t: "error"}));
  ws.onclose = (e) => report(JSON.stringify({t: "close", code: e.code, reason: e.reason}));
  return true;
})()
"""
_SEND = (
    "(ws => ws && ws.readyState === 1 ? (ws.send(%(text)s), true) : false)(globalThis[%(handle)s])"
)
_CLOSE = "globalThis[%(handle)s] && globalThis[%(handle)s].close(1000)"


class BrowserRelay:
    """A browser kept open on the playground page, from which WebSockets are opened.

    Started on first use and kept while the client lives; :meth:`aclose` stops it.
    """

    def __init__(
        self, base_url: str, *, executable: str | None = None, deadline: float = 60.0
    ) -> None:
        """Relay for the playground at ``base_url``."""
        self._base_url = base_url.rstrip("/")
        self._executable = executable
        self._deadline = deadline
        self._chromium: Chromium | None = None
        self._starting = asyncio.Lock()
        self._names = itertools.count(1)

    async def open_socket(self, url: str, *, timeout: float) -> RelayedAgentSocket:
        """Open ``url`` from inside the page; fails like a refused upgrade if the page can't."""
        chromium = await self._ready_browser()
        socket = RelayedAgentSocket(chromium.tab, url, f"cfPlaygroundRelay{next(self._names)}")
        try:
            await socket.open(timeout)
        except BaseException:
            await socket.close()
            raise
        return socket

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
            chromium = Chromium(executable, deadline=self._deadline)
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
        cdp = import_nodriver().cdp
        await present_as_regular_chrome(chromium.tab)
        await chromium.tab.send(cdp.page.navigate(url=f"{self._base_url}/"))
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


class RelayedAgentSocket:
    """A WebSocket living in a browser page, with the interface of a direct one."""

    def __init__(self, tab: Any, url: str, name: str) -> None:  # noqa: ANN401
        """Prepare a socket to ``url`` in ``tab``; ``name`` keeps its events apart."""
        self._tab = tab
        self._url = url
        self._binding = name
        self._handle = f"{name}Socket"
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._timeout = 0.0
        self._handlers: list[tuple[Any, Any]] = []

    async def open(self, timeout: float) -> None:
        """Open the socket in the page and wait until it is open."""
        cdp = import_nodriver().cdp
        self._timeout = timeout
        self._handlers = [
            (cdp.runtime.BindingCalled, self._on_binding),
            (cdp.page.FrameNavigated, self._on_navigation),
        ]
        for event, handler in self._handlers:
            self._tab.add_handler(event, handler)
        await self._send(cdp.page.enable())
        await self._send(cdp.runtime.add_binding(name=self._binding))
        await self._evaluate(
            _OPEN_SOCKET
            % {
                "binding": json.dumps(self._binding),
                "url": json.dumps(self._url),
                "handle": json.dumps(self._handle),
            }
        )
        first = await self._next_event()
        if first["t"] != "open":
            msg = (
                "the playground refused the WebSocket even from a browser page; try once with a"
                " visible browser: cf-playground session refresh --headful"
            )
            raise ChallengeError(msg, status=None)

    # nodriver calls a handler with (event, connection), or (event) if that fails.
    def _on_binding(self, event: Any, _connection: object = None) -> None:  # noqa: ANN401
        if event.name == self._binding:
            self._events.put_nowait(json.loads(event.payload))

    def _on_navigation(self, event: Any, _connection: object = None) -> None:  # noqa: ANN401
        # A page that navigates away takes its sockets with it, without a close event.
        if event.frame.parent_id is None:
            self._events.put_nowait({"t": "close", "code": None, "reason": "page navigated"})

    async def _next_event(self) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(self._events.get(), self._timeout)
        except asyncio.TimeoutError as exc:
            msg = f"no frame from the playground for {self._timeout:g} s (through the browser)"
            raise PlaygroundTimeoutError(msg) from exc

    async def send(self, frame: str) -> None:
        """Send one text frame from the page."""
        sent = await self._evaluate(
            _SEND % {"text": json.dumps(frame), "handle": json.dumps(self._handle)}
        )
        if sent is not True:
            msg = "the WebSocket in the browser page is closed"
            raise PlaygroundConnectionError(msg)

    async def receive(self) -> str:
        """The next text frame."""
        event = await self._next_event()
        if event["t"] == "frame":
            return str(event["d"])
        msg = (
            f"the playground closed the WebSocket (code {event.get('code')}) before the reply"
            " was complete (through the browser)"
        )
        raise PlaygroundConnectionError(msg)

    def conversation_ended(self) -> None:
        """Nothing to keep."""

    async def close(self) -> None:
        """Close the socket in the page and stop listening for its events."""
        with contextlib.suppress(Exception):
            await self._evaluate(_CLOSE % {"handle": json.dumps(self._handle)})
        with contextlib.suppress(Exception):
            await self._send(import_nodriver().cdp.runtime.remove_binding(name=self._binding))
        for event, handler in self._handlers:
            with contextlib.suppress(Exception):
                self._tab.remove_handler(event, handler)
        self._handlers = []

    async def _evaluate(self, expression: str) -> Any:  # noqa: ANN401
        cdp = import_nodriver().cdp
        result, exception = await self._send(
            cdp.runtime.evaluate(expression=expression, return_by_value=True)
        )
        return None if exception is not None else result.value

    async def _send(self, command: Any) -> Any:  # noqa: ANN401
        """One DevTools command, bounded by the timeout, failing as a connection error."""
        try:
            return await asyncio.wait_for(self._tab.send(command), self._timeout or None)
        except asyncio.TimeoutError as exc:
            msg = f"the browser page did not answer within {self._timeout:g} s"
            raise PlaygroundTimeoutError(msg) from exc
        except Exception as exc:
            msg = f"the browser page is gone: {exc}"
            raise PlaygroundConnectionError(msg) from exc
