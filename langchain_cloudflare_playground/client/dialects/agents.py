"""Dialect 3: the Agents-SDK WebSocket the live site speaks, one fresh room per conversation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from typing import TYPE_CHECKING, Any

from langchain_cloudflare_playground.client.browser.relay import BrowserRelay
from langchain_cloudflare_playground.client.codecs.agents import (
    AgentChatDecoder,
    StateRejectedError,
    agent_url,
    cancel_frame,
    chat_frame,
    decode_rpc_reply,
    is_initial_state,
    new_room,
    rpc_frame,
    state_frame,
)
from langchain_cloudflare_playground.client.codecs.base import parse_json_frame
from langchain_cloudflare_playground.client.errors import (
    NotFoundError,
    PlaygroundError,
    PlaygroundProtocolError,
)
from langchain_cloudflare_playground.client.models import parse_model_list
from langchain_cloudflare_playground.client.transports.cassette import (
    CassetteConversation,
    RecordingAgentSocket,
    ReplayedAgentSocket,
    active_cassette,
)
from langchain_cloudflare_playground.client.transports.websocket import connect_agent_socket

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from langchain_cloudflare_playground.client.codecs import ChatRequest
    from langchain_cloudflare_playground.client.connection import Connection
    from langchain_cloudflare_playground.client.events import ChatEvent
    from langchain_cloudflare_playground.client.models import ModelInfo
    from langchain_cloudflare_playground.client.transports.websocket import AgentSocket

__all__ = ["AgentsDialect", "NotInCassetteError"]

logger = logging.getLogger("langchain_cloudflare_playground")


class NotInCassetteError(NotFoundError):
    """A write-protected cassette holds no WebSocket conversation for this request.

    In ``"auto"`` mode the HTTP dialects get their turn (the conversation may have been recorded
    over HTTP); otherwise ``refusal``, vcrpy's own error, is what the caller should see.
    """

    def __init__(self, refusal: Exception) -> None:
        """Wrap vcrpy's error."""
        super().__init__(str(refusal))
        self.refusal = refusal


class AgentsDialect:
    """Speaks the Agents-SDK chat protocol."""

    def __init__(self, connection: Connection) -> None:
        """Talk through ``connection``."""
        self._connection = connection
        # A server that refused client state is configured through setConfig from then on.
        self._configure_by_rpc = False
        # Open WebSockets from inside a browser page (the in-page relay), one browser per loop.
        self.through_browser = False
        self._relays: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, BrowserRelay] = (
            weakref.WeakKeyDictionary()
        )

    async def aclose(self) -> None:
        """Stop the running loop's relay browser, if one was started."""
        relay = self._relays.pop(asyncio.get_running_loop(), None)
        if relay is not None:
            await relay.aclose()

    async def _relay(self) -> BrowserRelay:
        loop = asyncio.get_running_loop()
        relay = self._relays.get(loop)
        if relay is None:
            relay = self._relays[loop] = BrowserRelay(self._connection.base_url)
            # Stopped with its loop if the client is never closed (see Connection).
            await self._connection.close_with_loop(relay.aclose)
        return relay

    async def _connect(self, url: str, headers: dict[str, str], *, recorded: bool) -> AgentSocket:
        connection = self._connection
        if self.through_browser:
            return await (await self._relay()).open_socket(url, timeout=connection.timeout)
        # Under a cassette the upgrade bypasses vcrpy, which would record a bare interaction.
        return await connect_agent_socket(
            await connection.http_session(unrecorded=not recorded),
            url,
            headers=headers,
            proxy=connection.proxy,
            timeout=connection.timeout,
            total_timeout=connection.total_timeout,
        )

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        """One try: configure a fresh room, send the history, stream the reply.

        Raises:
            NotFoundError: the server has no Agents route (checked before anything is yielded).
        """
        socket = await self._open(_conversation_key(request))
        decoder = AgentChatDecoder(request.model)
        try:
            server_state = await _initial_state(socket)
            by_rpc = self._configure_by_rpc
            if by_rpc:
                await _call(socket, "setConfig", [_config_args(request)])
            else:
                await socket.send(state_frame(server_state, request))
            await socket.send(chat_frame(request.conversation, system_in_messages=by_rpc))
            while not decoder.done:
                try:
                    events = decoder.feed(await socket.receive())
                except StateRejectedError:
                    if by_rpc:
                        raise
                    break
                for event in events:
                    yield event
        finally:
            socket.conversation_ended()
            self._close_in_background(socket, cancel=not decoder.done)
        if not decoder.done:  # the state was refused before anything reached the caller
            self._configure_by_rpc = True
            logger.info(
                "%s refuses client state; configuring rooms with setConfig",
                self._connection.base_url,
            )
            async with contextlib.aclosing(self.stream(request)) as retried:
                async for event in retried:
                    yield event

    async def list_models(self) -> list[ModelInfo]:
        """The catalog from the ``getModels`` call, chat models only."""
        socket = await self._open({"rpc": "getModels"})
        try:
            result = await _call(socket, "getModels", [])
        finally:
            socket.conversation_ended()
            self._close_in_background(socket, cancel=False)
        models = parse_model_list(result)
        if not models:
            msg = "the model list is empty or in an unknown shape"
            raise PlaygroundProtocolError(msg)
        return models

    async def _open(self, key: dict[str, object]) -> AgentSocket:
        """A connection to a fresh room: live, or recorded/replayed when a cassette is active."""
        connection = self._connection
        url = agent_url(connection.base_url, new_room())
        # A relayed socket is opened by the browser page, with the page's own cookies.
        headers = (
            {} if self.through_browser else (await connection.sessions.get()).request_headers()
        )
        cassette = active_cassette()
        if cassette is None:
            return await self._connect(url, headers, recorded=True)
        conversation = CassetteConversation(cassette, url, key, headers)
        frames = conversation.recorded_frames()
        if frames is not None:
            return ReplayedAgentSocket(frames)
        if not conversation.ignored and not conversation.may_record:
            raise NotInCassetteError(conversation.refusal())
        try:
            live = await self._connect(url, headers, recorded=False)
        except NotFoundError:
            if not conversation.ignored:
                conversation.record_missing_route()
            raise
        if conversation.ignored:
            return live
        return RecordingAgentSocket(live, conversation)

    def _close_in_background(self, socket: AgentSocket, *, cancel: bool) -> None:
        """Cancel the request if it still runs, then close, off the caller's time."""

        async def finish() -> None:
            if cancel:
                with contextlib.suppress(PlaygroundError):
                    await socket.send(cancel_frame())
            await socket.close()

        self._connection.close_in_background(finish)


async def _initial_state(socket: AgentSocket) -> dict[str, Any]:
    """The room state the server sends on connect (empty if none comes before its MCP list)."""
    while True:
        frame = parse_json_frame(await socket.receive(), "agent")
        if isinstance(frame, dict):
            if is_initial_state(frame):
                state: dict[str, Any] = frame["state"]
                return state
            if frame.get("type") == "cf_agent_mcp_servers":
                return {}


async def _call(socket: AgentSocket, method: str, args: list[Any]) -> Any:  # noqa: ANN401
    """Call an agent method and wait for its reply (other frames are skipped)."""
    rpc_id = f"rpc-{method}"
    await socket.send(rpc_frame(rpc_id, method, args))
    while True:
        answered, result = decode_rpc_reply(await socket.receive(), rpc_id)
        if answered:
            return result


def _config_args(request: ChatRequest) -> dict[str, Any]:
    """``setConfig``'s argument; the system prompt then travels in the history instead."""
    config: dict[str, Any] = {"model": request.model, "stream": True}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    return config


def _conversation_key(request: ChatRequest) -> dict[str, object]:
    """What identifies a conversation in a cassette: settings and history, nothing random."""
    return {
        "model": request.model,
        "temperature": request.temperature,
        "system": request.conversation.system,
        "messages": [[m.role, m.content] for m in request.conversation.turns],
    }
