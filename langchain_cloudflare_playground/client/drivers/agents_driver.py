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

A dropped connection loses nothing. When the WebSocket breaks after the chat request went out
(a reset, an abrupt close, idle silence), the driver connects again to the same room over the same
route, at most twice per reply with backoff and inside ``total_timeout``, and never sends the
chat request again (that would make, and charge for, a second reply). The room says whether the
reply still runs (``cf_agent_stream_resuming``): then it is taken up, replayed from its start, and
only what the caller has not seen passes on. Otherwise the finished reply is read from the room's
stored messages (``get-messages``, which servers without resume frames serve too) and only its
unseen tail is passed on. A room that knows nothing of it gives the original error.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from typing import TYPE_CHECKING, Any, NoReturn

from langchain_cloudflare_playground.client.errors import (
    CertificateError,
    PlaygroundConnectionError,
    PlaygroundError,
    PlaygroundProtocolError,
    PlaygroundTimeoutError,
    WebSocketClosedError,
)
from langchain_cloudflare_playground.client.events import Finish
from langchain_cloudflare_playground.client.models import parse_model_list
from langchain_cloudflare_playground.client.transports.base import WebSocketRequest
from langchain_cloudflare_playground.client.wire_formats.agents_frames import (
    CHAT_REQUEST_ID,
    AgentChatDecoder,
    RoomConfiguration,
    agent_url,
    cancel_frame,
    chat_frame,
    decode_rpc_reply,
    holds_message,
    is_initial_state,
    last_sent_id,
    new_room,
    parse_resume_signal,
    resume_ack_frame,
    resume_probe_frame,
    resume_request_frame,
    rpc_frame,
    set_config_frame,
    state_frame,
    stored_finish_reason,
    stored_messages_path,
    stored_reply,
)
from langchain_cloudflare_playground.client.wire_formats.base import parse_json_frame

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable

    from langchain_cloudflare_playground.client.cleanup import Cleanup
    from langchain_cloudflare_playground.client.drivers.base import Route
    from langchain_cloudflare_playground.client.events import ChatEvent
    from langchain_cloudflare_playground.client.models import ModelInfo
    from langchain_cloudflare_playground.client.transports.base import WebSocket
    from langchain_cloudflare_playground.client.wire_formats import ChatRequest

__all__ = ["AgentsDriver"]

logger = logging.getLogger("langchain_cloudflare_playground")

MAX_RECONNECTS = 2
# Waited before the first and the second reconnect: a blip heals fast, a second drop less so.
RECONNECT_DELAYS = (0.2, 0.8)
# A reply that finished but is not stored yet (the SDK stores it, then says done): asked again.
_STORED_TRIES = 3
_STORED_PAUSE = 0.2
_STORED_LIMIT = 32 * 1024 * 1024


class AgentsDriver:
    """Speaks the Agents-SDK chat protocol."""

    def __init__(self, cleanup: Cleanup, *, total_timeout: float | None = None) -> None:
        """Close conversations through ``cleanup``; resume replies only within ``total_timeout``."""
        self._cleanup = cleanup
        self._total_timeout = total_timeout
        # Once a server refused client state, rooms get setConfig only, and the system prompt
        # travels in the history: the state would only be refused again.
        self._state_refused = False
        self._setconfig_refusals = 0

    async def stream(
        self, route: Route, request: ChatRequest
    ) -> AsyncGenerator[list[ChatEvent], None]:
        """One try: configure a fresh room, send the history, stream the reply's events by frame.

        Raises:
            NotFoundError: the server has no Agents route (checked before anything is yielded).
            ModelSettingsRefusedError: the server refused both the room state and ``setConfig``.
        """
        by_state = not self._state_refused
        resume = _Resume(
            route,
            _conversation_key(request),
            new_room(),
            last_sent_id(request.conversation, system_in_messages=not by_state),
        )
        socket = resume.socket = await _open(route, resume.key, resume.room)
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
            while resume.socket and (not decoder.done or configuration.model_unconfirmed):
                events = await self._next_events(resume, decoder, resumable=not held)
                if configuration.model_unconfirmed:
                    held.extend(events)
                    continue
                if by_state and configuration.state_refused:
                    self._state_refused = True
                    if request.conversation.system is not None:
                        system_lost = True  # it was in the refused state only
                        break
                batch = _batch(held, events, resume.reconnects)
                if batch:  # a frame's events travel on together
                    yield batch
            if configuration.rpc_error is not None:
                self._setconfig_refused(route, request.model, configuration.rpc_error)
        finally:
            self._leave(resume, decoder)
        if system_lost:  # nothing reached the caller yet: again, with the prompt in the history
            logger.info("%s refuses client state; configuring rooms with setConfig", route.base_url)
            async with contextlib.aclosing(self.stream(route, request)) as retried:
                async for batch in retried:
                    yield batch

    def _leave(self, resume: _Resume, decoder: AgentChatDecoder) -> None:
        """The caller is done with the reply: stop it in its room if it still runs."""
        self._end(resume.socket, cancel=not decoder.done)
        if resume.reconnecting:  # the caller left between a drop and the resume
            self._cancel_in_room(resume)

    def _cancel_in_room(self, resume: _Resume) -> None:
        """Stop the reply running in ``resume.room`` from a connection of its own, off time."""

        async def cancel() -> None:
            with contextlib.suppress(PlaygroundError):
                socket = await _open(resume.route, resume.key, resume.room)
                try:
                    await socket.send(cancel_frame())
                finally:
                    socket.conversation_ended()
                    await socket.close()

        self._cleanup.in_background(cancel)

    def _end(self, socket: WebSocket | None, *, cancel: bool) -> None:
        """The conversation on ``socket`` (if any) is over: close it off the caller's time."""
        if socket is not None:
            socket.conversation_ended()
            self._close_in_background(socket, cancel=cancel)

    async def _next_events(
        self, resume: _Resume, decoder: AgentChatDecoder, *, resumable: bool
    ) -> list[ChatEvent]:
        """The events of the next frame; after a reconnect, maybe the reply's stored end."""
        socket = resume.socket
        assert socket is not None  # noqa: S101 (the caller loops only while there is one)
        try:
            # Every frame of a reply is read here, one coroutine deep; a drop goes the long way.
            raw = await resume.receive(socket, self._total_timeout)
        except PlaygroundConnectionError as exc:
            raw, tail = await self._after_drop(resume, decoder, exc, resumable=resumable)
            if tail is not None:
                return tail
        events = decoder.feed(raw)
        if decoder.done and resume.reconnects:
            return await _whole_end(events, resume, decoder)
        return events

    async def _after_drop(
        self,
        resume: _Resume,
        decoder: AgentChatDecoder,
        error: PlaygroundConnectionError,
        *,
        resumable: bool,
    ) -> tuple[str, list[ChatEvent] | None]:
        """The next frame of the reply after ``error`` dropped the connection, reconnecting.

        ``(frame, None)``, or ``("", tail)`` when the rest of the reply was read from the room's
        stored messages (``resume.socket`` is then ``None``).

        Raises:
            PlaygroundConnectionError: ``error`` when it cannot be resumed, or the drop that
                ended the resume.
        """
        while True:
            socket = resume.socket
            if not resumable or not _resumable(error):
                raise error
            resume.socket = None
            self._end(socket, cancel=False)
            resume.reconnecting = True
            try:
                tail = await self._reconnect(resume, decoder, error)
            except PlaygroundError:
                resume.reconnecting = False  # given up: as before, the reply is left be
                raise
            resume.reconnecting = False
            if resume.socket is None:
                return "", tail
            try:
                return await resume.receive(resume.socket, self._total_timeout), None
            except PlaygroundConnectionError as exc:
                error = exc

    async def _reconnect(
        self, resume: _Resume, decoder: AgentChatDecoder, error: PlaygroundConnectionError
    ) -> list[ChatEvent]:
        """Back to the room after ``error``: ``resume.socket`` replays the reply, or its tail.

        Raises:
            PlaygroundConnectionError: ``error`` (or the last drop), when no reconnect is left,
                the time is up, or the room knows nothing of the reply.
        """
        while True:
            if resume.reconnects >= MAX_RECONNECTS:
                raise error
            delay = RECONNECT_DELAYS[resume.reconnects]
            if resume.deadline(self._total_timeout) - time.monotonic() <= delay:
                raise error
            await asyncio.sleep(delay)
            resume.reconnects += 1
            socket: WebSocket | None = None
            try:
                socket = await _open(resume.route, resume.key, resume.room)
                await socket.send(resume_request_frame())
                await socket.send(resume_probe_frame())
                signal = None
                while signal is None:
                    signal = parse_resume_signal(await resume.receive(socket, self._total_timeout))
                if signal == "resuming":
                    await socket.send(resume_ack_frame(CHAT_REQUEST_ID))
                    decoder.progress.restart()
                    logger.info(
                        "The connection dropped mid-reply (%s); resumed the running reply in its"
                        " room (reconnect %d of %d)",
                        error,
                        resume.reconnects,
                        MAX_RECONNECTS,
                    )
                    resume.socket = socket
                    return []
                self._end(socket, cancel=False)
                socket = None
                tail = await _stored_tail(resume, decoder)
            except PlaygroundConnectionError as exc:
                self._end(socket, cancel=False)
                if not _resumable(exc):
                    raise error from exc
                error = exc
                continue
            except PlaygroundError as exc:  # the room is gone, or the site refuses us now
                self._end(socket, cancel=False)
                logger.info("Could not go back to the room of a dropped reply (%s)", exc)
                raise error from exc
            if tail is None:
                _unrecoverable(error, resume, decoder)
            logger.info(
                "The connection dropped mid-reply (%s); read the finished reply from its room's"
                " stored messages (reconnect %d of %d)",
                error,
                resume.reconnects,
                MAX_RECONNECTS,
            )
            return tail

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


async def _open(
    route: Route, conversation: dict[str, object], room: str | None = None
) -> WebSocket:
    """A WebSocket to ``room`` (a fresh one if ``None``), over the route's transport."""
    request = WebSocketRequest(
        agent_url(route.base_url, room or new_room()), await route.headers(), conversation
    )
    return await route.transport.open_websocket(request)


class _Resume:
    """What resuming one reply needs: its route and room, its socket, the message it answers."""

    def __init__(self, route: Route, key: dict[str, object], room: str, asked_id: str) -> None:
        self.route = route
        self.key = key
        self.socket: WebSocket | None = None
        self.room = room
        self.asked_id = asked_id
        self.reconnects = 0
        self.started = time.monotonic()
        self.request_stored = False  # the room's stored messages hold the chat request
        self.reconnecting = False  # between a drop and the resumed socket (or the stored end)

    def deadline(self, total_timeout: float | None) -> float:
        """When the call's total time is up."""
        return float("inf") if total_timeout is None else self.started + total_timeout

    def receive(self, socket: WebSocket, total_timeout: float | None = None) -> Awaitable[str]:
        """The next frame; after a reconnect, within what is left of the call's total time.

        A new socket's transport counts its total time from its own start, so a resumed reply
        is held to the call's.
        """
        if self.reconnects == 0 or total_timeout is None:
            # Every frame of a reply that never dropped comes this way: the socket's own
            # awaitable, without a coroutine of this method around it to step through.
            return socket.receive()
        return self._receive_within(socket, total_timeout)

    async def _receive_within(self, socket: WebSocket, total_timeout: float) -> str:
        left = self.deadline(total_timeout) - time.monotonic()
        try:
            return await asyncio.wait_for(socket.receive(), max(left, 0.0))
        except TimeoutError:
            msg = f"the reply took more than total_timeout={total_timeout:g} s"
            raise PlaygroundTimeoutError(msg) from None


def _unrecoverable(
    error: PlaygroundConnectionError, resume: _Resume, decoder: AgentChatDecoder
) -> NoReturn:
    """Give up on a reply its room cannot give back.

    Raises:
        PlaygroundConnectionError: ``error``; marked ``request_delivered`` (never retried) when
            the room holds the request, so a reply is or was being made for it.
    """
    if resume.request_stored and decoder.progress.nothing_seen:
        logger.info(
            "The room of a dropped reply has the request but no finished reply (%s); not sending"
            " it again, which would make a second reply",
            error,
        )
        error.request_delivered = True
        raise error
    logger.info("The room of a dropped reply cannot give it back (%s)", error)
    raise error


def _resumable(error: PlaygroundConnectionError) -> bool:
    """Whether ``error`` may have left the reply running in its room (not a refusal)."""
    if isinstance(error, CertificateError):
        return False
    return not (isinstance(error, WebSocketClosedError) and error.is_answer)


async def _whole_end(
    events: list[ChatEvent], resume: _Resume, decoder: AgentChatDecoder
) -> list[ChatEvent]:
    """``events`` that end a resumed reply, completed from the room if its end was not replayed.

    A reply that finished between the resume's announcement and its ack is answered with a
    bare ``done`` (no chunks): its text is then only in the room's stored messages.

    Raises:
        PlaygroundConnectionError: the room does not hold the rest of the reply.
    """
    if decoder.finished:
        return events
    tail = await _stored_tail(resume, decoder)
    if tail is None:
        msg = "the resumed reply ended without its end, and its room does not hold it"
        raise PlaygroundConnectionError(msg)
    logger.info("The resumed reply ended early; read its end from the room's stored messages")
    return [*(e for e in events if not isinstance(e, Finish)), *tail]


def _batch(held: list[ChatEvent], events: list[ChatEvent], reconnects: int) -> list[ChatEvent]:
    """``held`` then ``events`` in one batch, emptying ``held``; a finish counts ``reconnects``."""
    if not held and not reconnects:  # nearly every frame: the decoder's new list, as it is
        return events
    batch = [_counted(event, reconnects) for event in (*held, *events)]
    held.clear()
    return batch


def _counted(event: ChatEvent, reconnects: int) -> ChatEvent:
    """``event``, a ``Finish`` saying how many reconnects the reply took."""
    if isinstance(event, Finish) and reconnects:
        return dataclasses.replace(event, reconnects=reconnects)
    return event


async def _stored_tail(resume: _Resume, decoder: AgentChatDecoder) -> list[ChatEvent] | None:
    """The unseen tail of the finished reply stored in the room, and its finish; ``None``: none.

    Raises:
        PlaygroundConnectionError: the request for the stored messages failed on the way.
    """
    for attempt in range(_STORED_TRIES):
        if attempt:
            await asyncio.sleep(_STORED_PAUSE)
        try:
            async with resume.route.request("GET", stored_messages_path(resume.room)) as response:
                body = await response.aread(_STORED_LIMIT)
        except PlaygroundConnectionError:
            raise
        except PlaygroundError:
            return None  # no such route, or a refusal: the room cannot tell
        try:
            messages = json.loads(body)
        except (ValueError, RecursionError):
            return None
        resume.request_stored = resume.request_stored or holds_message(messages, resume.asked_id)
        message = stored_reply(messages, resume.asked_id)
        if message is not None:
            reason = stored_finish_reason(message) or decoder.finish_reason
            finish = Finish(reason, None, decoder.model, reconnects=resume.reconnects)
            return [*decoder.progress.unseen_tail(message), finish]
    return None


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
