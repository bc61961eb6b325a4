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

import json
from typing import TYPE_CHECKING, Any

import aiohttp

from langchain_cloudflare_playground.client.errors import PlaygroundConnectionError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from langchain_cloudflare_playground.client.transports.websocket import AgentSocket

__all__ = ["CassetteConversation", "active_cassette", "unrecorded_request"]

_FRAME_SEPARATOR = "\n"  # JSON frames never contain a raw newline


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
    """One WebSocket conversation as an interaction of ``cassette``."""

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
        # The room and connection id are random per run; the stable part of the URL is the key.
        stable_url = url.split("?", 1)[0].rsplit("/", 1)[0] + "/cassette"
        safe_headers = {k: v for k, v in headers.items() if k.lower() != "cookie"}
        self.request = Request(
            "GET", stable_url, json.dumps(dict(key), sort_keys=True), safe_headers
        )

    def recorded_frames(self) -> list[str] | None:
        """The frames of a recorded conversation, or ``None`` if the cassette has none to play."""
        if not self._cassette.can_play_response_for(self.request):
            return None
        response = self._cassette.play_response(self.request)
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

    def begin_recording(self) -> Callable[[list[str]], None]:
        """Add the conversation to the cassette now; the returned function updates its frames.

        Recorded as it goes rather than at the end, because a caller who stops reading early
        closes the conversation only when the abandoned stream is collected, which may be after
        the cassette was saved.
        """
        data = self._cassette.data
        before = len(data)
        self._cassette.append(
            self.request,
            {
                "status": {"code": 101, "message": "Switching Protocols"},
                "headers": {"Upgrade": ["websocket"]},
                "body": {"string": ""},
            },
        )
        if len(data) == before:  # the cassette's own filters dropped it
            return lambda _frames: None
        stored = data[-1][1]

        def update(frames: list[str]) -> None:
            stored["body"] = {"string": _FRAME_SEPARATOR.join(frames)}
            self._cassette.dirty = True

        return update


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
            msg = "the recorded conversation ends here (it was cut short when recorded)"
            raise PlaygroundConnectionError(msg)
        return self._frames.pop()

    async def close(self) -> None:
        """Nothing to close."""


class RecordingAgentSocket:
    """A live socket whose received frames go into the cassette as they arrive."""

    def __init__(self, live: AgentSocket, conversation: CassetteConversation) -> None:
        """Record what ``live`` receives as ``conversation``."""
        self._live = live
        self._frames: list[str] = []
        self._update = conversation.begin_recording()

    async def send(self, frame: str) -> None:
        """Send on the live socket."""
        await self._live.send(frame)

    async def receive(self) -> str:
        """Receive from the live socket, and record the frame."""
        frame = await self._live.receive()
        self._frames.append(frame)
        self._update(self._frames)
        return frame

    async def close(self) -> None:
        """Close the live socket."""
        await self._live.close()
