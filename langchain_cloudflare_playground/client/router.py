"""The router: which driver answers, and which transport carries each try. Decided here only.

Drivers: the Agents frames first (the live site), the HTTP wire formats when the server has no
Agents route (remembered for good), unless the caller fixed the wire format. Transports: the
current rung of the transport ladder (:mod:`.transport_ladder`): direct aiohttp, then the
Chrome-impersonating transport, then the in-page browser relay, climbed one rung per refusal;
the rung that worked is remembered for the site in the session cache. A transport of the
caller's own is used for everything, with no ladder. While a VCR cassette is in use, whatever
transport is chosen is wrapped in the cassette transport, which records and replays WebSocket
conversations.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import TYPE_CHECKING, Any

from langchain_cloudflare_playground.client.cleanup import Cleanup
from langchain_cloudflare_playground.client.drivers import AgentsDriver, HttpDriver, Route
from langchain_cloudflare_playground.client.errors import NotFoundError, NotRecordedError
from langchain_cloudflare_playground.client.transport_ladder import (
    TransportLadder,
    impersonation_available,
)
from langchain_cloudflare_playground.client.transports.aiohttp_transport import AiohttpTransport
from langchain_cloudflare_playground.testing.cassette_slot import active_cassette

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from langchain_cloudflare_playground.client.errors import PlaygroundError
    from langchain_cloudflare_playground.client.events import ChatEvent
    from langchain_cloudflare_playground.client.models import ModelInfo
    from langchain_cloudflare_playground.client.options import ClientOptions
    from langchain_cloudflare_playground.client.sessions import SessionStore
    from langchain_cloudflare_playground.client.transport_ladder import Rung
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
        self._options = options
        self._http_only = options.wire_format == "http"  # "auto" learns it from a missing route
        self._own = None if isinstance(options.transport, str) else options.transport
        self._ladder: TransportLadder | None = None  # built at first use: it reads the cache
        self._transports: dict[Rung, Transport] = {}
        self.http = HttpDriver()
        self.agents = AgentsDriver(
            self.cleanup, total_timeout=options.total_timeout, sessions=sessions
        )
        self._warned_about_vcr = False

    def __repr__(self) -> str:
        """What it routes through."""
        return f"Router({self.base_url!r}, transport={self._options.transport!r})"

    # -- one try -------------------------------------------------------------------------------

    async def stream(self, request: ChatRequest) -> AsyncGenerator[list[ChatEvent], None]:
        """One try, in the wire format the server speaks: the events, a batch per read."""
        if not self._http_only:
            batches = self.agents.stream(self._route(websocket=True), request)
            try:
                first = await anext(batches)
            except NotFoundError as exc:
                await batches.aclose()
                self._fall_back_to_http(exc)
            except StopAsyncIteration:
                return
            else:
                async with contextlib.aclosing(batches):
                    yield first
                    async for batch in batches:
                        yield batch
                return
        async with contextlib.aclosing(
            self.http.stream(self._route(websocket=False), request)
        ) as batches:
            async for batch in batches:
                yield batch

    async def list_models(self) -> list[ModelInfo]:
        """One try at the catalog, in the wire format the server speaks."""
        if not self._http_only:
            try:
                return await self.agents.list_models(self._route(websocket=True))
            except NotFoundError as exc:
                self._fall_back_to_http(exc)
        return await self.http.list_models(self._route(websocket=False))

    def fetch_transport(self) -> Transport:
        """What fetches a resource of another site (an image URL) for a call.

        The transport of the current rung that carries HTTP, with its proxy and timeouts (in the
        cassette while one is in use). Requests over it never carry the site's session.
        """
        return self._route(websocket=False).transport

    @property
    def sends_session(self) -> bool:
        """Whether the next try sends the client's session (a browser page sends its own)."""
        return self._http_only or self.ladder.current != "browser"

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

    def rung_for(self, refusal: PlaygroundError) -> Rung | None:
        """The rung a climb after ``refusal`` would reach, if one is there and could help.

        The browser relay carries WebSockets only, so it cannot help the HTTP wire formats.
        """
        del refusal  # every kind of refusal climbs alike; the argument says what is answered
        following = self.ladder.next_rung()
        return None if following == "browser" and self._http_only else following

    def climb(self, refusal: PlaygroundError) -> None:
        """Take the next rung after ``refusal`` of the current one."""
        refused = self.ladder.current
        following = self.ladder.climb(refusal)
        logger.info("%s refused the %s transport; trying %s", self.base_url, refused, following)

    def worked(self) -> None:
        """A try got an answer: remember its rung for the site, if it was climbed to."""
        ladder = self.ladder
        if ladder.climbs and ladder.current != ladder.start:
            ladder.start = ladder.current
            self.sessions.remember_transport(ladder.current)

    def all_refused(self, refusal: PlaygroundError) -> PlaygroundError:
        """The error for a refusal no rung is left for: what was tried and what to do next."""
        return self.ladder.all_refused(refusal) if self.ladder.climbs else refusal

    @property
    def ladder(self) -> TransportLadder:
        """The transport ladder, starting on the rung remembered for the site."""
        if self._ladder is None:
            choice = self._options.transport
            if not isinstance(choice, str):
                self._ladder = TransportLadder(rungs=("direct",))
            elif choice != "auto":
                self._ladder = TransportLadder.for_choice(choice, browser_allowed=True)
            else:
                from langchain_cloudflare_playground.client.browser import (  # noqa: PLC0415
                    browser_available,
                )

                self._ladder = TransportLadder.for_choice(
                    "auto",
                    browser_allowed=browser_available(browser=self._options.browser),
                    remembered=self.sessions.remembered_transport(),
                )
        return self._ladder

    # -- transports ----------------------------------------------------------------------------

    def _route(self, *, websocket: bool) -> Route:
        """The route of one try: the one place a transport is chosen."""
        rung = self.ladder.current
        relayed = websocket and rung == "browser"
        if rung == "browser" and not relayed:
            rung = http_rung()  # the relay opens WebSockets only
        transport = self.transport(rung)
        cassette = active_cassette()
        if cassette is not None:
            from langchain_cloudflare_playground.testing.cassette_transport import (  # noqa: PLC0415
                CassetteTransport,  # loaded only while a cassette is in use
            )

            transport = CassetteTransport(transport, cassette)
        elif websocket:
            self._warn_if_vcr_cannot_see_websockets()
        return Route(self.base_url, transport, None if relayed else self.sessions)

    def transport(self, rung: Rung) -> Transport:
        """The transport of ``rung`` (the caller's own, if given), made on first use."""
        if self._own is not None:
            return self._own
        made = self._transports.get(rung)
        if made is None:
            made = self._transports[rung] = self._make_transport(rung)
        return made

    def _make_transport(self, rung: Rung) -> Transport:
        options = self._options
        settings: dict[str, Any] = {  # what every transport built here shares
            "timeout": options.timeout,
            "total_timeout": options.total_timeout,
            "proxy": options.proxy,
            "max_connections": options.max_connections,
            "verify": options.verify,
        }
        if rung == "direct":
            return AiohttpTransport(**settings)
        if rung == "impersonate":
            from langchain_cloudflare_playground.client.transports.impersonating_transport import (  # noqa: PLC0415
                ImpersonatingTransport,
            )

            return ImpersonatingTransport(**settings)
        from langchain_cloudflare_playground.client.transports.browser_relay import (  # noqa: PLC0415
            BrowserRelayTransport,
        )

        # The page opens WebSockets; HTTP requests of the relay go by the best rung below it.
        return BrowserRelayTransport(
            self.base_url,
            http=self.transport(http_rung()),
            cleanup=self.cleanup,
            timeout=options.timeout,
            verify=options.verify,
        )

    @property
    def direct(self) -> Transport:
        """The direct transport (the caller's own, if given)."""
        return self.transport("direct")

    @property
    def relay(self) -> BrowserRelayTransport | None:
        """The in-page relay, once the ladder has reached it."""
        return self._transports.get("browser")  # type: ignore[return-value]

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
        # The relay first: its HTTP requests go through a transport below it.
        for rung in ("browser", "impersonate", "direct"):
            made = self._transports.get(rung)
            if made is not None:
                await made.aclose()
        if self._own is not None:
            await self._own.aclose()


def http_rung() -> Rung:
    """The rung that carries HTTP when the browser relay carries the WebSockets."""
    return "impersonate" if impersonation_available() else "direct"
