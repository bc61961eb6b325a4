"""The driver of the Agents frames: the Agents-SDK WebSocket the live site speaks.

One fresh room per conversation. The driver configures the room, sends the whole history, and
feeds the frames to the pure decoder in ``wire_formats.agents_frames``.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from langchain_cloudflare_playground.client.errors import (
    PlaygroundError,
    PlaygroundProtocolError,
)
from langchain_cloudflare_playground.client.models import parse_model_list
from langchain_cloudflare_playground.client.transports.base import WebSocketRequest
from langchain_cloudflare_playground.client.wire_formats.agents_frames import (
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
from langchain_cloudflare_playground.client.wire_formats.base import parse_json_frame

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from langchain_cloudflare_playground.client.cleanup import Cleanup
    from langchain_cloudflare_playground.client.drivers.base import Route
    from langchain_cloudflare_playground.client.events import ChatEvent
    from langchain_cloudflare_playground.client.models import ModelInfo
    from langchain_cloudflare_playground.client.transports.base import WebSocket
    from langchain_cloudflare_playground.client.wire_formats import ChatRequest

__all__ = ["AgentsDriver"]

logger = logging.getLogger("langchain_cloudflare_playground")


class AgentsDriver:
    """Speaks the Agents-SDK chat protocol."""

    def __init__(self, cleanup: Cleanup) -> None:
        """Close finished conversations through ``cleanup``, off the caller's time."""
        self._cleanup = cleanup
        # A server that refused client state is configured through setConfig from then on.
        self._configure_by_rpc = False

    async def stream(self, route: Route, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        """One try: configure a fresh room, send the history, stream the reply.

        Raises:
            NotFoundError: the server has no Agents route (checked before anything is yielded).
        """
        socket = await _open(route, _conversation_key(request))
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
            logger.info("%s refuses client state; configuring rooms with setConfig", route.base_url)
            async with contextlib.aclosing(self.stream(route, request)) as retried:
                async for event in retried:
                    yield event

    async def list_models(self, route: Route) -> list[ModelInfo]:
        """The catalog from the ``getModels`` call, chat models only."""
        socket = await _open(route, {"rpc": "getModels"})
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

    def _close_in_background(self, socket: WebSocket, *, cancel: bool) -> None:
        """Cancel the request if it still runs, then close, off the caller's time."""

        async def finish() -> None:
            if cancel:
                with contextlib.suppress(PlaygroundError):
                    await socket.send(cancel_frame())
            await socket.close()

        self._cleanup.in_background(finish)


async def _open(route: Route, conversation: dict[str, object]) -> WebSocket:
    """A WebSocket to a fresh room, over the route's transport."""
    request = WebSocketRequest(
        agent_url(route.base_url, new_room()), await route.headers(), conversation
    )
    return await route.transport.open_websocket(request)


async def _initial_state(socket: WebSocket) -> dict[str, Any]:
    """The room state the server sends on connect (empty if none comes before its MCP list)."""
    while True:
        frame = parse_json_frame(await socket.receive(), "agent")
        if isinstance(frame, dict):
            if is_initial_state(frame):
                state: dict[str, Any] = frame["state"]
                return state
            if frame.get("type") == "cf_agent_mcp_servers":
                return {}


async def _call(socket: WebSocket, method: str, args: list[Any]) -> Any:  # noqa: ANN401
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
    """What identifies a conversation to a recorder: settings and history, nothing random."""
    return {
        "model": request.model,
        "temperature": request.temperature,
        "system": request.conversation.system,
        "messages": [[m.role, m.content] for m in request.conversation.turns],
    }
