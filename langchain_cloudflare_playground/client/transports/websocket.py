"""The WebSocket transport: carries the Agents dialect's frames over aiohttp.

It knows nothing of the frames' meaning. It opens the connection with the session's headers,
maps a refused upgrade onto the same typed errors as HTTP, bounds every wait for a frame by the
idle timeout, and closes without making the caller wait for a slow peer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Protocol

import aiohttp

from langchain_cloudflare_playground.client.errors import (
    ChallengeError,
    NotFoundError,
    PlaygroundConnectionError,
    PlaygroundError,
    PlaygroundProtocolError,
    PlaygroundTimeoutError,
    make_status_error,
    raise_detached,
)
from langchain_cloudflare_playground.client.retry import parse_retry_after
from langchain_cloudflare_playground.client.transports.http import (
    total_budget_spent,
    translated_errors,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["AgentSocket", "LiveAgentSocket", "UpgradeRefusedError", "connect_agent_socket"]

# How long a close handshake may take. It runs after the reply has reached the caller, in the
# background, so this bounds only how long a silent peer's connection lingers.
_CLOSE_SECONDS = 2.0


class UpgradeRefusedError(ChallengeError):
    """The site refused the WebSocket upgrade itself, as it does to clients unlike a browser."""


class AgentSocket(Protocol):
    """One conversation's connection: send frames, receive frames, close."""

    async def send(self, frame: str) -> None:
        """Send one text frame."""
        ...

    async def receive(self) -> str:
        """The next text frame; raises a typed error when the connection ends or goes quiet."""
        ...

    def conversation_ended(self) -> None:
        """Called at once when the conversation ends, before the close (which may wait)."""
        ...

    async def close(self) -> None:
        """Close the connection."""
        ...


class LiveAgentSocket:
    """An open WebSocket to the playground."""

    def __init__(
        self,
        websocket: aiohttp.ClientWebSocketResponse[bool],
        timeout: float,
        total_timeout: float | None = None,
    ) -> None:
        """Wrap an open ``websocket``: ``timeout`` bounds each wait, ``total_timeout`` them all."""
        self._websocket = websocket
        self._timeout = timeout
        self._total = total_timeout
        self._deadline = None if total_timeout is None else time.monotonic() + total_timeout

    async def send(self, frame: str) -> None:
        """Send one text frame."""
        with translated_errors(self._timeout):
            await self._websocket.send_str(frame)

    async def receive(self) -> str:
        """The next text frame."""
        wait = self._timeout
        if self._deadline is not None:
            wait = min(wait, self._deadline - time.monotonic())
        if wait <= 0:
            raise PlaygroundTimeoutError(total_budget_spent(self._total or 0))
        try:
            with translated_errors(self._timeout):
                message = await self._websocket.receive(timeout=wait)
        except PlaygroundTimeoutError:
            if self._deadline is not None and time.monotonic() >= self._deadline:
                raise PlaygroundTimeoutError(total_budget_spent(self._total or 0)) from None
            raise
        if message.type is aiohttp.WSMsgType.TEXT:
            return str(message.data)
        if message.type is aiohttp.WSMsgType.BINARY:
            try:
                return bytes(message.data).decode("utf-8")
            except UnicodeDecodeError as exc:
                msg = "the playground sent a binary frame that is not UTF-8 text"
                raise PlaygroundProtocolError(msg) from exc
        if message.type is aiohttp.WSMsgType.ERROR:
            msg = f"the WebSocket connection failed: {message.data}"
            raise PlaygroundConnectionError(msg)
        code = self._websocket.close_code
        msg = f"the playground closed the WebSocket (code {code}) before the reply was complete"
        raise PlaygroundConnectionError(msg)

    def conversation_ended(self) -> None:
        """Nothing to do: a live socket keeps nothing."""

    async def close(self) -> None:
        """Close; a peer that does not answer the close handshake costs at most a few seconds."""
        with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
            await self._websocket.close(code=aiohttp.WSCloseCode.OK)


async def connect_agent_socket(  # noqa: PLR0913 (keyword-only configuration)
    session: aiohttp.ClientSession,
    url: str,
    *,
    headers: Mapping[str, str],
    proxy: str | None,
    timeout: float,
    total_timeout: float | None = None,
) -> LiveAgentSocket:
    """Open the WebSocket at ``url``.

    Raises:
        NotFoundError: the server has no Agents route (an HTTP-dialect server, say).
        ChallengeError: the upgrade was refused (403), as Cloudflare does to non-browser clients.
        PlaygroundStatusError: another refusal, typed by status.
    """
    # aiohttp upgrades an http(s) URL just the same, and a proxy understands that form (an
    # absolute http URL, or CONNECT for https) where it rejects ws:// outright.
    request_url = "http" + url.removeprefix("ws") if url.startswith("ws") else url
    with translated_errors(timeout):
        try:
            websocket = await session.ws_connect(
                request_url,
                headers=headers,
                proxy=proxy,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=_CLOSE_SECONDS),
                autoping=True,
                max_msg_size=0,  # a long reply can come as one large frame
            )
        except aiohttp.WSServerHandshakeError as exc:
            # Not chained: the handshake error's request_info holds the session's cookies.
            raise_detached(_refused_upgrade(exc))
    return LiveAgentSocket(websocket, timeout, total_timeout)


def _refused_upgrade(exc: aiohttp.WSServerHandshakeError) -> PlaygroundError:
    status = exc.status
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    retry_after = parse_retry_after(headers)
    if status == 404:  # noqa: PLR2004
        return NotFoundError(
            "HTTP 404: this server has no Agents WebSocket route (/agents/playground)",
            status=status,
            retry_after=retry_after,
        )
    if status == 403 or headers.get("cf-mitigated") == "challenge":  # noqa: PLR2004
        return UpgradeRefusedError(
            f"HTTP {status}: the playground refused the WebSocket upgrade, as Cloudflare does to"
            ' clients that do not look like a browser. pip install "cloudflare-playground[browser]"'
            " and install Chromium (or set CHROME_PATH) to use a browser session.",
            status=status,
            retry_after=retry_after,
        )
    if status in (101, 200):  # answered, but not with a valid upgrade
        return PlaygroundProtocolError(f"the WebSocket handshake failed: {exc.message}")
    return make_status_error(status, "", {}, retry_after=retry_after)
