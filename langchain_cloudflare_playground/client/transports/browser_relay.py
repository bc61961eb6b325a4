"""The in-page relay: WebSockets opened inside a real browser page, frames relayed over CDP.

For when the site refuses a direct upgrade even with a browser's cookies (the live edge judges
the TLS handshake itself). Each frame reaches Python through a DevTools binding event, and goes
out through one ``Runtime.evaluate``; no polling. The page sends its own cookies and headers.
HTTP requests are not relayed: they go through the transport this one is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import weakref
from typing import TYPE_CHECKING, Any

from langchain_cloudflare_playground.client.browser.chromium import import_nodriver
from langchain_cloudflare_playground.client.errors import (
    ChallengeError,
    PlaygroundConnectionError,
    PlaygroundTimeoutError,
    WebSocketClosedError,
)

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from langchain_cloudflare_playground.client.browser.relay import BrowserRelay
    from langchain_cloudflare_playground.client.cleanup import Cleanup
    from langchain_cloudflare_playground.client.transports.base import (
        HttpRequest,
        HttpResponse,
        Transport,
        WebSocketRequest,
    )

__all__ = ["BrowserRelayTransport", "RelayedWebSocket"]

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


class BrowserRelayTransport:
    """Opens WebSockets from a browser page kept on the playground, one browser per event loop.

    Args:
        base_url: The playground whose page the browser keeps open.
        http: The transport for HTTP requests.
        cleanup: Stops each loop's browser when that loop ends, if nothing stopped it before.
        timeout: Seconds allowed for each frame and each DevTools call.
        verify: The server certificates the page trusts (the client's ``verify`` option).
    """

    def __init__(
        self,
        base_url: str,
        *,
        http: Transport,
        cleanup: Cleanup,
        timeout: float,
        verify: bool | str = True,
    ) -> None:
        """Relay for ``base_url``; the browser starts with the first WebSocket."""
        self._base_url = base_url
        self._http = http
        self._cleanup = cleanup
        self._timeout = timeout
        self._verify = verify
        self._browsers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, BrowserRelay] = (
            weakref.WeakKeyDictionary()
        )
        self._names = itertools.count(1)

    def __repr__(self) -> str:
        """Where it relays to."""
        return f"BrowserRelayTransport({self._base_url!r})"

    def stream(self, request: HttpRequest) -> AbstractAsyncContextManager[HttpResponse]:
        """HTTP goes through the transport this one was given."""
        return self._http.stream(request)

    async def open_websocket(self, request: WebSocketRequest) -> RelayedWebSocket:
        """Open ``request.url`` from inside the page; refused like an upgrade if the page can't."""
        tab = await (await self._browser()).ready_page()
        name = f"cfPlaygroundRelay{next(self._names)}"
        socket = RelayedWebSocket(tab, request.url, name, self._timeout)
        try:
            await socket.open()
        except BaseException:
            await socket.close()
            raise
        return socket

    async def aclose(self) -> None:
        """Stop the running loop's browser, if one was started."""
        browser = self._browsers.pop(asyncio.get_running_loop(), None)
        if browser is not None:
            await browser.aclose()

    @property
    def browser(self) -> BrowserRelay | None:
        """The running loop's browser, if one was started (for diagnostics)."""
        return self._browsers.get(asyncio.get_running_loop())

    async def _browser(self) -> BrowserRelay:
        from langchain_cloudflare_playground.client.browser.relay import (  # noqa: PLC0415
            BrowserRelay,  # Chromium driving loads with the first relayed socket
        )

        loop = asyncio.get_running_loop()
        browser = self._browsers.get(loop)
        if browser is None:
            browser = self._browsers[loop] = BrowserRelay(self._base_url, verify=self._verify)
            await self._cleanup.with_loop(browser.aclose)
        return browser


class RelayedWebSocket:
    """A WebSocket living in a browser page, with the interface of a direct one."""

    def __init__(self, tab: Any, url: str, name: str, timeout: float) -> None:  # noqa: ANN401
        """Prepare a socket to ``url`` in ``tab``; ``name`` keeps its events apart.

        ``timeout`` bounds every wait: for a frame, and for the page to answer a command.
        """
        self._tab = tab
        self._url = url
        self._binding = name
        self._handle = f"{name}Socket"
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._timeout = timeout
        self._handlers: list[tuple[Any, Any]] = []

    async def open(self) -> None:
        """Open the socket in the page and wait until it is open."""
        cdp = import_nodriver().cdp
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
        except TimeoutError as exc:
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
        code = event.get("code")
        msg = (
            f"the playground closed the WebSocket (code {code}) before the reply"
            " was complete (through the browser)"
        )
        raise WebSocketClosedError(msg, code if isinstance(code, int) else None)

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
        except TimeoutError as exc:
            msg = f"the browser page did not answer within {self._timeout:g} s"
            raise PlaygroundTimeoutError(msg) from exc
        except Exception as exc:
            msg = f"the browser page is gone: {exc}"
            raise PlaygroundConnectionError(msg) from exc
