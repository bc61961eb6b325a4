"""The driver of the Agents frames: the Agents-SDK WebSocket the live site speaks.

One fresh room per conversation. The driver configures the room, sends the whole history, and
feeds the frames to the pure decoder in ``wire_formats.agents_frames``.

Configuring a room: third-party captures of the live site disagree on how it takes the model
(client state in some, a ``setConfig`` call the public server code never had in later ones), so
every room gets both, pipelined: the state frame, the ``setConfig`` call and the chat request go
out one after the other with no wait between, and the call's reply is read whenever it arrives
among the chat frames. It costs no round trip: the server handles the frames in order, so the
model is chosen before the chat request is read. The reply is only waited for when it matters,
once the state was refused (a ``cf_agent_state_error``, which the server sends before any chat
frame): then the reply to the chat request is held back until ``setConfig`` says whether the
model was taken. ``setConfig`` failing alone (the state carried the settings) is logged; a
server without ``setConfig`` ("Method setConfig does not exist") is fine; both failing is a
:class:`~langchain_cloudflare_playground.client.errors.ModelSettingsRefusedError` naming the
model (see ``RoomConfiguration``).
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
    RoomConfiguration,
    agent_url,
    cancel_frame,
    chat_frame,
    decode_rpc_reply,
    is_initial_state,
    new_room,
    rpc_frame,
    set_config_frame,
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
        # Once a server refused client state, rooms get setConfig only, and the system prompt
        # travels in the history: the state would only be refused again.
        self._state_refused = False
        self._setconfig_refusals = 0

    async def stream(self, route: Route, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        """One try: configure a fresh room, send the history, stream the reply.

        Raises:
            NotFoundError: the server has no Agents route (checked before anything is yielded).
            ModelSettingsRefusedError: the server refused both the room state and ``setConfig``.
        """
        socket = await _open(route, _conversation_key(request))
        by_state = not self._state_refused
        configuration = RoomConfiguration(request.model, state_sent=by_state)
        decoder = AgentChatDecoder(request.model, configuration)
        system_lost = False
        try:
            server_state = await _initial_state(socket)
            if by_state:
                await socket.send(state_frame(server_state, request))
            await socket.send(set_config_frame(request))
            await socket.send(chat_frame(request.conversation, system_in_messages=not by_state))
            held: list[ChatEvent] = []
            while not decoder.done or configuration.model_unconfirmed:
                events = decoder.feed(await socket.receive())
                if configuration.model_unconfirmed:
                    held.extend(events)
                    continue
                if by_state and configuration.state_refused:
                    self._state_refused = True
                    if request.conversation.system is not None:
                        system_lost = True  # it was in the refused state only
                        break
                for event in (*held, *events):
                    yield event
                held.clear()
            if configuration.rpc_error is not None:
                self._setconfig_refused(route, request.model, configuration.rpc_error)
        finally:
            socket.conversation_ended()
            self._close_in_background(socket, cancel=not decoder.done)
        if system_lost:  # nothing reached the caller yet: again, with the prompt in the history
            logger.info("%s refuses client state; configuring rooms with setConfig", route.base_url)
            async with contextlib.aclosing(self.stream(route, request)) as retried:
                async for event in retried:
                    yield event

    def _setconfig_refused(self, route: Route, model: str, error: str) -> None:
        """Log a ``setConfig`` refusal the room state made up for: loudly once, then quietly."""
        self._setconfig_refusals += 1
        level = logging.WARNING if self._setconfig_refusals == 1 else logging.DEBUG
        logger.log(
            level,
            "%s refused setConfig for %s (%s); the room state carried the settings",
            route.base_url,
            model,
            error,
        )

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


def _conversation_key(request: ChatRequest) -> dict[str, object]:
    """What identifies a conversation to a recorder: settings and history, nothing random."""
    return {
        "model": request.model,
        "temperature": request.temperature,
        "system": request.conversation.system,
        "messages": [[m.role, m.content] for m in request.conversation.turns],
    }
