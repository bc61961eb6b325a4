"""The router: which driver answers, and which transport carries each try. Decided here only.

Drivers: the Agents frames first (the live site), the HTTP wire formats when the server has no
Agents route (remembered for good), unless the caller fixed the wire format. Transports, for the
WebSocket: the direct one, then — when the site refuses a direct upgrade even with a fresh
session — the in-page browser relay (the transport ladder). A transport of the caller's own is
used for everything, with no ladder. While a VCR cassette is in use, whatever transport is
chosen is wrapped in the cassette transport, which records and replays WebSocket conversations.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.client.cleanup import Cleanup
from langchain_cloudflare_playground.client.drivers import AgentsDriver, HttpDriver, Route
from langchain_cloudflare_playground.client.errors import NotFoundError, NotRecordedError
from langchain_cloudflare_playground.client.transports.aiohttp_transport import AiohttpTransport
from langchain_cloudflare_playground.testing.cassette_slot import active_cassette

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable

    from langchain_cloudflare_playground.client.events import ChatEvent
    from langchain_cloudflare_playground.client.models import ModelInfo
    from langchain_cloudflare_playground.client.options import ClientOptions
    from langchain_cloudflare_playground.client.sessions import SessionStore
    from langchain_cloudflare_playground.client.transports.base import Transport
    from langchain_cloudflare_playground.client.transports.browser_relay import (
        BrowserRelayTransport,
    )
    from langchain_cloudflare_playground.client.wire_formats import ChatRequest

__all__ = ["Router"]

logger = logging.getLogger("langchain_cloudflare_playground")


class Router:
    """Chooses the driver and the transport of every try, and falls back or climbs on refusal.

    Args:
        base_url: The playground.
        options: The client's options (``wire_format``, ``transport``, ``browser`` and the
            direct transport's settings).
        sessions: The session sent with requests that do not go through a browser page.
    """

    def __init__(self, base_url: str, options: ClientOptions, sessions: SessionStore) -> None:
        """Start with the Agents frames (unless told otherwise) over the first transport."""
        self.base_url = base_url
        self.wire_format = options.wire_format
        self.sessions = sessions
        self.cleanup = Cleanup()
        self._browser = options.browser
        self._timeout = options.timeout
        self._http_only = options.wire_format == "http"  # "auto" learns it from a missing route
        if isinstance(options.transport, str):
            self._ladder = options.transport
            direct: Callable[..., Transport] = AiohttpTransport
            if options.transport == "impersonate":
                from langchain_cloudflare_playground.client.transports.impersonating_transport import (  # noqa: PLC0415, E501
                    ImpersonatingTransport,  # curl_cffi, an optional extra: loaded only when chosen
                )

                direct = ImpersonatingTransport
            self.direct: Transport = direct(
                timeout=options.timeout,
                total_timeout=options.total_timeout,
                proxy=options.proxy,
                max_connections=options.max_connections,
                verify=options.verify,
            )
        else:  # the caller's own: used for everything
            self._ladder = "direct"
            self.direct = options.transport
        self._relaying = self._ladder == "browser"
        self._relay: BrowserRelayTransport | None = None
        self.http = HttpDriver()
        self.agents = AgentsDriver(self.cleanup)
        self._warned_about_vcr = False

    def __repr__(self) -> str:
        """What it routes through."""
        return f"Router({self.base_url!r}, direct={self.direct!r})"

    # -- one try -------------------------------------------------------------------------------

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        """One try, in the wire format the server speaks."""
        if not self._http_only:
            events = self.agents.stream(self._route(websocket=True), request)
            try:
                first = await anext(events)
            except NotFoundError as exc:
                await events.aclose()
                self._fall_back_to_http(exc)
            except StopAsyncIteration:
                return
            else:
                async with contextlib.aclosing(events):
                    yield first
                    async for event in events:
                        yield event
                return
        async with contextlib.aclosing(
            self.http.stream(self._route(websocket=False), request)
        ) as events:
            async for event in events:
                yield event

    async def list_models(self) -> list[ModelInfo]:
        """One try at the catalog, in the wire format the server speaks."""
        if not self._http_only:
            try:
                return await self.agents.list_models(self._route(websocket=True))
            except NotFoundError as exc:
                self._fall_back_to_http(exc)
        return await self.http.list_models(self._route(websocket=False))

    @property
    def sends_session(self) -> bool:
        """Whether the next try sends the client's session (a browser page sends its own)."""
        return self._http_only or not self._relaying

    # -- refusals ------------------------------------------------------------------------------

    def _fall_back_to_http(self, error: NotFoundError) -> None:
        """Let HTTP answer after the Agents route was missing; raise if that is not allowed."""
        if isinstance(error, NotRecordedError):
            if self.wire_format != "auto":
                raise error.refusal from None
            return  # the cassette may hold the conversation over HTTP; learn nothing
        if self.wire_format != "auto":
            raise error
        logger.info("%s has no Agents WebSocket route; using the HTTP wire formats", self.base_url)
        self._http_only = True

    def next_transport(self) -> bool:
        """Climb to the in-page relay after a refused upgrade; ``False`` when there is no rung."""
        from langchain_cloudflare_playground.client.browser import (  # noqa: PLC0415
            browser_available,
        )

        if self._ladder != "auto" or self._relaying:
            return False
        if not browser_available(browser=self._browser):
            return False
        logger.info(
            "%s refuses direct WebSocket upgrades; relaying through a browser page", self.base_url
        )
        self._relaying = True
        return True

    # -- transports ----------------------------------------------------------------------------

    def _route(self, *, websocket: bool) -> Route:
        """The route of one try: the one place a transport is chosen."""
        relayed = websocket and self._relaying
        transport = self._relay_transport() if relayed else self.direct
        cassette = active_cassette()
        if cassette is not None:
            from langchain_cloudflare_playground.testing.cassette_transport import (  # noqa: PLC0415
                CassetteTransport,  # loaded only while a cassette is in use
            )

            transport = CassetteTransport(transport, cassette)
        elif websocket:
            self._warn_if_vcr_cannot_see_websockets()
        return Route(self.base_url, transport, None if relayed else self.sessions)

    def _relay_transport(self) -> BrowserRelayTransport:
        if self._relay is None:
            from langchain_cloudflare_playground.client.transports.browser_relay import (  # noqa: PLC0415
                BrowserRelayTransport,
            )

            self._relay = BrowserRelayTransport(
                self.base_url, http=self.direct, cleanup=self.cleanup, timeout=self._timeout
            )
        return self._relay

    @property
    def relay(self) -> BrowserRelayTransport | None:
        """The in-page relay, once the ladder has reached it."""
        return self._relay

    def _warn_if_vcr_cannot_see_websockets(self) -> None:
        """Say so when vcrpy records this process but was not told how to record WebSockets."""
        if self._warned_about_vcr or "vcr.stubs.aiohttp_stubs" not in sys.modules:
            return
        import aiohttp  # noqa: PLC0415 (loaded already: vcrpy's stub imports it)

        if not hasattr(aiohttp.ClientSession._request, "__wrapped__"):  # noqa: SLF001
            return
        self._warned_about_vcr = True
        logger.warning(
            "A VCR cassette seems to be in use, but WebSocket conversations are recorded only with"
            " the custom patches of langchain_cloudflare_playground.testing: use its vcr_config(),"
            " or add custom_patches=cassette_patches() to your settings; this conversation goes"
            " to the network unrecorded"
        )

    async def aclose(self) -> None:
        """Close the running loop's background work, relay browser and connections."""
        await self.cleanup.aclose()
        if self._relay is not None:
            await self._relay.aclose()
        await self.direct.aclose()
