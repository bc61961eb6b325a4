"""WebSocket conversations in VCR cassettes, so users' ``@pytest.mark.vcr`` tests work with them.

vcrpy records HTTP requests only: of a WebSocket it would keep the upgrade and lose every frame,
and on replay aiohttp's handshake then fails. This bridge records each conversation as one
interaction of the active cassette — the request is the conversation's settings and history, the
response the frames the server sent — and replays it with no network, honouring the cassette's
record mode and filters. The WebSocket itself is opened with aiohttp's own request function, so
vcrpy does not also record the bare upgrade.

vcrpy is never imported unless a cassette is active (vcrpy's patch is in place).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import aiohttp

from langchain_cloudflare_playground.client.errors import NotFoundError, PlaygroundProtocolError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from langchain_cloudflare_playground.client.transports.websocket import AgentSocket

__all__ = ["CassetteConversation", "active_cassette", "unrecorded_request"]

_FRAME_SEPARATOR = "\n"  # JSON frames never contain a raw newline
_NO_ROUTE = 404


def active_cassette() -> Any | None:  # noqa: ANN401 (vcrpy's Cassette, untyped)
    """The innermost vcrpy cassette in use, or ``None``.

    vcrpy wraps ``aiohttp.ClientSession._request`` in a closure over the cassette while one is
    active; that closure is the one place the active cassette can be found.
    """
    request = aiohttp.ClientSession._request  # noqa: SLF001
    if not hasattr(request, "__wrapped__"):
        return None
    for cell in getattr(request, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if type(value).__name__ == "Cassette" and hasattr(value, "can_play_response_for"):
            return value
    return None


def unrecorded_request() -> Callable[..., Any]:
    """The ``ClientSession._request`` of aiohttp itself, beneath any vcrpy patches."""
    request: Any = aiohttp.ClientSession._request  # noqa: SLF001
    while hasattr(request, "__wrapped__"):
        request = request.__wrapped__
    return request  # type: ignore[no-any-return]


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
        from vcr.errors import CannotOverwriteExistingCassetteException  # noqa: PLC0415

        error: Exception = CannotOverwriteExistingCassetteException(
            cassette=self._cassette, failed_request=self.request
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


def _response(status: int, message: str, body: str) -> dict[str, Any]:
    return {
        "status": {"code": status, "message": message},
        "headers": {"Upgrade": ["websocket"]} if status == 101 else {},  # noqa: PLR2004
        "body": {"string": body},
    }


class ReplayedAgentSocket:
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


class RecordingAgentSocket:
    """A live socket whose received frames go into the cassette when the conversation ends."""

    def __init__(self, live: AgentSocket, conversation: CassetteConversation) -> None:
        """Record what ``live`` receives as ``conversation``."""
        self._live = live
        self._frames: list[str] = []
        self._store = conversation.begin_recording()

    async def send(self, frame: str) -> None:
        """Send on the live socket."""
        await self._live.send(frame)

    async def receive(self) -> str:
        """Receive from the live socket, and keep the frame."""
        frame = await self._live.receive()
        self._frames.append(frame)
        return frame

    def conversation_ended(self) -> None:
        """Store the frames received so far in the cassette."""
        self._store(self._frames)

    async def close(self) -> None:
        """Close the live socket."""
        self.conversation_ended()
        await self._live.close()
