"""A transport that records WebSocket conversations in the active VCR cassette and replays them.

vcrpy records HTTP requests only: of a WebSocket it would keep the upgrade and lose every frame.
:class:`CassetteTransport` wraps the transport the client would use and, for each WebSocket,
records the conversation as one interaction of the cassette — the request is the conversation's
settings and history, the response the frames the server sent — or replays it with no network,
honouring the cassette's record mode and filters. HTTP requests over aiohttp pass through to it,
where vcrpy's own patch records them; over any other transport (the impersonating one, which
vcrpy cannot see), they are recorded and replayed here, as vcrpy would store them.

The router wraps its transport in this one only while a cassette is in use (see
``cassette_slot``); a call made without a cassette never imports this module, nor vcrpy.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from typing import TYPE_CHECKING, Any

from langchain_cloudflare_playground.client.errors import (
    NotFoundError,
    NotRecordedError,
    PlaygroundError,
    PlaygroundProtocolError,
)
from langchain_cloudflare_playground.client.transports.base import HttpResponse

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Mapping
    from contextlib import AbstractAsyncContextManager

    from langchain_cloudflare_playground.client.transports.base import (
        HttpRequest,
        Transport,
        WebSocket,
        WebSocketRequest,
    )

__all__ = ["CassetteConversation", "CassetteTransport"]

_FRAME_SEPARATOR = "\n"  # JSON frames never contain a raw newline
_NO_ROUTE = 404
_REST_SECONDS = 1.0  # for the end of a body the caller left after the reply's end marker


class CassetteTransport:
    """Records and replays WebSocket conversations in ``cassette``; HTTP goes to ``inner``."""

    def __init__(self, inner: Transport, cassette: Any) -> None:  # noqa: ANN401 (vcrpy's)
        """Wrap ``inner`` for as long as ``cassette`` is in use."""
        self._inner = inner
        self._cassette = cassette

    def __repr__(self) -> str:
        """What it wraps."""
        return f"CassetteTransport({self._inner!r})"

    def stream(self, request: HttpRequest) -> AbstractAsyncContextManager[HttpResponse]:
        """HTTP over aiohttp passes through (vcrpy records it there); other HTTP is kept here."""
        from langchain_cloudflare_playground.client.transports.aiohttp_transport import (  # noqa: PLC0415
            AiohttpTransport,
        )

        if isinstance(self._inner, AiohttpTransport):
            return self._inner.stream(request)
        return self._stream_recorded(request)

    @contextlib.asynccontextmanager
    async def _stream_recorded(self, request: HttpRequest) -> AsyncIterator[HttpResponse]:
        """The recorded response, or a live one recorded once its body has been read whole."""
        from vcr.request import Request  # noqa: PLC0415 (only with a cassette active)

        cassette = self._cassette
        safe_headers = {k: v for k, v in request.headers.items() if k.lower() != "cookie"}
        recorded = Request(request.method, request.url, request.body, safe_headers)
        if not cassette.filter_request(recorded):  # ignored: to the network, unrecorded
            async with self._inner.stream(request) as response:
                yield response
            return
        if cassette.can_play_response_for(recorded):
            played = cassette.play_response(recorded)
            yield _replayed_http(played)
            return
        if cassette.write_protected:  # vcrpy's own error, as for a request over aiohttp
            raise CassetteConversation.refusal_for(cassette, recorded)
        async with self._inner.stream(request) as response:
            body = _KeptBody(response.iter_bytes())
            yield HttpResponse(response.status, _header_pairs(response), body.chunks())
            # The caller's block ended cleanly (a driver stops at the reply's end marker): what
            # is left of the body is only its framing; once read, the response is whole.
            if await body.read_rest():
                cassette.append(recorded, _http_response(response, body.kept))

    async def open_websocket(self, request: WebSocketRequest) -> WebSocket:
        """The recorded conversation, or a live one that gets recorded, as the record mode says.

        Raises:
            NotFoundError: the recording says the server had no Agents route.
            NotRecordedError: the cassette may not record and holds nothing for this request.
        """
        conversation = CassetteConversation(
            self._cassette, request.url, request.conversation, request.headers
        )
        frames = conversation.recorded_frames()
        if frames is not None:
            return ReplayedWebSocket(frames)
        if not conversation.ignored and not conversation.may_record:
            raise NotRecordedError(conversation.refusal())
        try:
            live = await self._inner.open_websocket(request)
        except NotFoundError:
            if not conversation.ignored:
                conversation.record_missing_route()
            raise
        if conversation.ignored:
            return live
        return RecordingWebSocket(live, conversation)

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self._inner.aclose()


class CassetteConversation:
    """One WebSocket conversation (or agent call) as an interaction of ``cassette``.

    The recorded request is ``GET {base}/agents/playground/cassette/{kind}?key={digest}`` with the
    key as its body: the path tells chats from model listings and the digest tells conversations
    apart, so even vcrpy's default matching (which ignores bodies) keeps them apart.
    """

    def __init__(
        self,
        cassette: Any,  # noqa: ANN401
        url: str,
        key: Mapping[str, Any],
        headers: Mapping[str, str],
    ) -> None:
        """Describe the conversation: ``key`` holds what makes it this conversation."""
        from vcr.request import Request  # noqa: PLC0415 (only with a cassette active)

        self._cassette = cassette
        body = json.dumps(dict(key), sort_keys=True)
        digest = hashlib.sha256(body.encode()).hexdigest()[:16]
        kind = str(key.get("rpc", "chat"))
        # The room and connection id are random per run: only the playground's address is kept.
        base = url.split("?", 1)[0].rsplit("/", 1)[0]
        safe_headers = {k: v for k, v in headers.items() if k.lower() != "cookie"}
        self.request = Request("GET", f"{base}/cassette/{kind}?key={digest}", body, safe_headers)
        # vcrpy's ignore_hosts / ignore_localhost / before_record_request may drop the request:
        # then it goes to the network, neither played nor recorded, as vcrpy does for HTTP.
        self.ignored = not cassette.filter_request(self.request)

    def recorded_frames(self) -> list[str] | None:
        """The frames of a recorded conversation, or ``None`` if the cassette has none to play.

        Raises:
            NotFoundError: the recording says the server had no Agents route.
        """
        if self.ignored or not self._cassette.can_play_response_for(self.request):
            return None
        response = self._cassette.play_response(self.request)
        if response.get("status", {}).get("code") == _NO_ROUTE:
            msg = "HTTP 404: this server has no Agents WebSocket route (as recorded)"
            raise NotFoundError(msg, status=_NO_ROUTE)
        body = response.get("body", {}).get("string", "")
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        return [frame for frame in body.split(_FRAME_SEPARATOR) if frame]

    @property
    def may_record(self) -> bool:
        """Whether the cassette's record mode lets a new conversation be recorded."""
        return not self._cassette.write_protected

    def refusal(self) -> Exception:
        """The error vcrpy raises for a request the cassette can neither play nor record."""
        return self.refusal_for(self._cassette, self.request)

    @staticmethod
    def refusal_for(cassette: Any, request: Any) -> Exception:  # noqa: ANN401 (vcrpy's)
        """The error vcrpy raises for ``request``: ``cassette`` can neither play nor record it."""
        from vcr.errors import CannotOverwriteExistingCassetteException  # noqa: PLC0415

        error: Exception = CannotOverwriteExistingCassetteException(
            cassette=cassette, failed_request=request
        )
        return error

    def record_missing_route(self) -> None:
        """Record that the server has no Agents route, so a replay falls back as the run did."""
        self._cassette.append(self.request, _response(_NO_ROUTE, "Not Found", ""))

    def begin_recording(self) -> Callable[[list[str]], None]:
        """Add the conversation to the cassette; the returned function stores its frames.

        Added now, completed when the conversation ends: a caller who stops reading early may
        close the conversation only when the abandoned stream is collected. The frames pass
        through the cassette's ``before_record_response`` filters like any response.
        """
        data = self._cassette.data
        before = len(data)
        self._cassette.append(self.request, _response(101, "Switching Protocols", ""))
        if len(data) == before:  # the cassette's own filters dropped it
            return lambda _frames: None
        index = before
        request = data[index][0]
        # vcrpy keeps no public way to re-filter a stored response; this is the hook append uses.
        before_record_response = self._cassette._before_record_response  # noqa: SLF001

        def store(frames: list[str]) -> None:
            response = before_record_response(
                _response(101, "Switching Protocols", _FRAME_SEPARATOR.join(frames))
            )
            if response is not None:
                data[index] = (request, response)
                self._cassette.dirty = True

        return store


class _KeptBody:
    """A body passed on as it arrives, and kept, for the cassette."""

    def __init__(self, stream: AsyncIterator[bytes]) -> None:
        self._stream = stream
        self._kept = bytearray()
        self._ended = False

    @property
    def kept(self) -> bytes:
        return bytes(self._kept)

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            self._kept += chunk
            yield chunk
        self._ended = True

    async def read_rest(self) -> bool:
        """Read what the caller left (briefly); whether the body was read to its end."""

        async def rest() -> None:
            async for chunk in self._stream:
                self._kept += chunk
            self._ended = True

        if not self._ended:
            with contextlib.suppress(PlaygroundError, TimeoutError):
                await asyncio.wait_for(rest(), _REST_SECONDS)
        return self._ended


def _header_pairs(response: HttpResponse) -> list[tuple[str, str]]:
    """Every header of ``response`` as name/value pairs, repeated ones kept."""
    return [(name, value) for name in response.headers for value in response.header_values(name)]


def _http_response(response: HttpResponse, body: bytes) -> dict[str, Any]:
    """``response`` as vcrpy stores one (its filters run when the cassette appends it)."""
    headers: dict[str, list[str]] = {}
    for name, value in _header_pairs(response):
        headers.setdefault(name, []).append(value)
    return {
        "status": {"code": response.status, "message": ""},
        "headers": headers,
        "body": {"string": body},
    }


def _replayed_http(played: Mapping[str, Any]) -> HttpResponse:
    """A response of the cassette, its body in one piece."""
    body = played.get("body", {}).get("string", b"")
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = [
        (name, value)
        for name, values in played.get("headers", {}).items()
        for value in (values if isinstance(values, list) else [values])
    ]

    async def once() -> AsyncIterator[bytes]:
        if body:
            yield body

    return HttpResponse(int(played["status"]["code"]), headers, once())


def _response(status: int, message: str, body: str) -> dict[str, Any]:
    return {
        "status": {"code": status, "message": message},
        "headers": {"Upgrade": ["websocket"]} if status == 101 else {},  # noqa: PLR2004
        "body": {"string": body},
    }


class ReplayedWebSocket:
    """Plays a recorded conversation back; what the client sends goes nowhere."""

    def __init__(self, frames: list[str]) -> None:
        """Play ``frames`` in order."""
        self._frames = list(reversed(frames))

    async def send(self, frame: str) -> None:
        """Nothing to send to: the answers are recorded."""
        del frame

    async def receive(self) -> str:
        """The next recorded frame."""
        if not self._frames:
            # Not a connection error: retrying would only replay the next recording instead.
            msg = (
                "the recorded conversation ends here (the caller stopped reading when it was"
                " recorded); re-record the cassette to replay further"
            )
            raise PlaygroundProtocolError(msg)
        return self._frames.pop()

    def conversation_ended(self) -> None:
        """Nothing to finish."""

    async def close(self) -> None:
        """Nothing to close."""


class RecordingWebSocket:
    """A live socket whose received frames go into the cassette when the conversation ends."""

    def __init__(self, live: WebSocket, conversation: CassetteConversation) -> None:
        """Record what ``live`` receives as ``conversation``."""
        self._live = live
        self._frames: list[str] = []
        self._store = conversation.begin_recording()
        self._ended = False

    async def send(self, frame: str) -> None:
        """Send on the live socket."""
        await self._live.send(frame)

    async def receive(self) -> str:
        """Receive from the live socket, and keep the frame."""
        frame = await self._live.receive()
        if not self._ended:
            self._frames.append(frame)
        return frame

    def conversation_ended(self) -> None:
        """Store the frames received so far in the cassette; later ones are not the caller's.

        (Those read after a cancel, while the room confirms it, never reached the caller: a
        replay ends where the caller stopped reading, as the recording did.)
        """
        if not self._ended:
            self._ended = True
            self._store(self._frames)

    async def close(self) -> None:
        """Close the live socket."""
        self.conversation_ended()
        await self._live.close()
