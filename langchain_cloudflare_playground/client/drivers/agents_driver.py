"""The driver of the Agents frames: the Agents-SDK WebSocket the live site speaks.

One fresh room per conversation. The driver configures the room, sends the whole history, and
feeds the frames to the pure decoder in ``wire_formats.agents_frames``.

Settings are verified, never assumed. Sites take a room's model, temperature and system prompt
in different ways (the state frame; a ``setConfig`` call, with or without the system prompt; the
system prompt only as a ``system`` message in the history), and a site may take a state frame
without an error and then put its own values back. So the first conversation with a site learns
its way: it gives the room its settings every way at once, waits one round trip for what the room
says its state is, and remembers the way that took (:class:`SettingsWay`, kept in the session
cache for a day, as the transport rung is). Later conversations go straight to it, pipelined
with the chat request. Every conversation checks the room's state at the reply's first frame
(:class:`RoomConfiguration`): a setting that did not take drops the reply before any of it
reaches the caller, and the site's way is learned again; when no way gives the model or the
temperature, the call fails with
:class:`~langchain_cloudflare_playground.client.errors.ModelSettingsRefusedError` naming it.

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
    ModelSettingsRefusedError,
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
    SET_CONFIG_AGAIN_ID,
    SET_CONFIG_ID,
    AgentChatDecoder,
    RoomConfiguration,
    RoomSettings,
    SettingsWay,
    agent_url,
    cancel_frame,
    chat_frame,
    config_args,
    decode_rpc_reply,
    ends_chat_request,
    holds_message,
    is_initial_state,
    last_sent_id,
    new_room,
    parse_resume_signal,
    resume_ack_frame,
    resume_probe_frame,
    resume_request_frame,
    room_state,
    rpc_frame,
    settings_probe_frame,
    state_frame,
    stored_finish_reason,
    stored_messages_path,
    stored_reply,
)
from langchain_cloudflare_playground.client.wire_formats.base import parse_json_frame
from langchain_cloudflare_playground.testing.cassette_slot import active_cassette

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable

    from langchain_cloudflare_playground.client.cleanup import Cleanup
    from langchain_cloudflare_playground.client.drivers.base import Route
    from langchain_cloudflare_playground.client.events import ChatEvent
    from langchain_cloudflare_playground.client.messages import Message
    from langchain_cloudflare_playground.client.models import ModelInfo
    from langchain_cloudflare_playground.client.sessions import SessionStore
    from langchain_cloudflare_playground.client.transports.base import WebSocket
    from langchain_cloudflare_playground.client.wire_formats import ChatRequest
    from langchain_cloudflare_playground.client.wire_formats.agents_frames import (
        Carrier,
        SystemCarrier,
    )

__all__ = ["AgentsDriver"]

logger = logging.getLogger("langchain_cloudflare_playground")

MAX_RECONNECTS = 2
# Waited before the first and the second reconnect: a blip heals fast, a second drop less so.
RECONNECT_DELAYS = (0.2, 0.8)
# How long a cancelled reply's room has to say the request ended, before the socket closes
# anyway (off the caller's time).
CANCEL_SECONDS = 2.0
# A reply that finished but is not stored yet (the SDK stores it, then says done): asked again.
_STORED_TRIES = 3
_STORED_PAUSE = 0.2
_STORED_LIMIT = 32 * 1024 * 1024


class AgentsDriver:
    """Speaks the Agents-SDK chat protocol."""

    def __init__(
        self,
        cleanup: Cleanup,
        *,
        total_timeout: float | None = None,
        sessions: SessionStore | None = None,
    ) -> None:
        """Close conversations through ``cleanup``; resume replies only within ``total_timeout``.

        ``sessions`` keeps the site's way of taking settings from one process to the next.
        """
        self._cleanup = cleanup
        self._total_timeout = total_timeout
        self._sessions = sessions
        self._way: SettingsWay | None = None
        self._way_loaded = False

    async def stream(
        self, route: Route, request: ChatRequest
    ) -> AsyncGenerator[list[ChatEvent], None]:
        """One try: configure a fresh room, send the history, stream the reply's events by frame.

        Raises:
            NotFoundError: the server has no Agents route (checked before anything is yielded).
            ModelSettingsRefusedError: the room would not take the model or the temperature
                (checked before anything is yielded).
        """
        settings = RoomSettings.of(request)
        way = self._known_way(settings)
        went_wrong: ModelSettingsRefusedError | None = None
        try:
            async with contextlib.aclosing(
                self._converse(route, request, settings, way)
            ) as replies:
                async for batch in replies:
                    yield batch
        except ModelSettingsRefusedError as exc:
            if way is None:
                raise
            went_wrong = exc  # raised at the reply's first frame: nothing reached the caller
        if went_wrong is not None and way is not None:
            logger.info(
                "%s did not take the settings the way it did before (%s); learning its way again",
                route.base_url,
                went_wrong,
            )
            self._forget_way()
            async with contextlib.aclosing(
                self._converse(route, request, settings, None, failed_way=way)
            ) as replies:
                async for batch in replies:
                    yield batch

    async def _converse(
        self,
        route: Route,
        request: ChatRequest,
        settings: RoomSettings,
        way: SettingsWay | None,
        *,
        failed_way: SettingsWay | None = None,
    ) -> AsyncGenerator[list[ChatEvent], None]:
        """One conversation in a fresh room: ``settings`` given ``way`` (``None``: learn it)."""
        key, room = _conversation_key(request), new_room()
        socket = await _open(route, key, room)
        try:
            initial = await _initial_state(socket)
            if way is None:
                configuration, way = await self._learn(route, socket, settings, initial, failed_way)
            else:
                configuration = await _configure(socket, settings, initial, way)
            system_in_messages = way.system == "history" and settings.system is not None
            configuration.system_in_history = system_in_messages
            chat = chat_frame(request.conversation, system_in_messages=system_in_messages)
            await socket.send(chat)
        except BaseException:
            self._end(socket, cancel=False)
            raise
        asked_id = last_sent_id(request.conversation, system_in_messages=system_in_messages)
        resume = _Resume(route, key, room, asked_id)
        resume.socket = socket
        decoder = AgentChatDecoder(request.model, configuration)
        try:
            held: list[ChatEvent] = []
            while resume.socket and (not decoder.done or configuration.unconfirmed):
                events = await self._next_events(resume, decoder, resumable=not held)
                if configuration.unconfirmed:  # setConfig is yet to say whether it took
                    held.extend(events)
                    continue
                batch = _batch(held, events, resume.reconnects)
                if batch:  # a frame's events travel on together
                    yield batch
        finally:
            self._leave(resume, decoder)

    async def _learn(
        self,
        route: Route,
        socket: WebSocket,
        settings: RoomSettings,
        initial: dict[str, Any],
        failed_way: SettingsWay | None,
    ) -> tuple[RoomConfiguration, SettingsWay]:
        """Give the room its settings every way at once, see which took, and remember that.

        One round trip, on a site's first conversation: the state frame, a probe whose answer
        marks where the state frame's effects end, and ``setConfig`` with the system prompt;
        then ``setConfig``'s answer is waited for. A ``setConfig`` refused while the model is
        still missing is called once more without the system prompt, which it may not know.

        Raises:
            ModelSettingsRefusedError: no way gave the model or the temperature.
        """
        state = room_state(initial, settings)
        await socket.send(state_frame(state))
        configuration = RoomConfiguration(settings, initial, state_sent=state)
        await socket.send(settings_probe_frame())
        await _call_set_config(socket, configuration, SET_CONFIG_ID, with_system=True)
        await _observe_until_answered(socket, configuration)
        first = configuration.config_reply(SET_CONFIG_ID)
        if (
            settings.system is not None
            and first is not None
            and not first.success
            and not first.method_missing
            and _model_missing(configuration)
        ):
            await _call_set_config(socket, configuration, SET_CONFIG_AGAIN_ID, with_system=False)
            await _observe_until_answered(socket, configuration)
        model_missing = _model_missing(configuration)
        if model_missing:
            raise configuration.refusal(model_missing)
        way = _learned_way(configuration, failed_way)
        if self._way is not None and way.system is None and self._way.model == way.model:
            way = dataclasses.replace(way, system=self._way.system)  # what it knew still holds
        self._remember_way(route, way)
        return configuration, way

    def _known_way(self, settings: RoomSettings) -> SettingsWay | None:
        """The site's way of taking settings, if known and enough for ``settings``."""
        if active_cassette() is not None:
            # Recorded and replayed conversations go the same way whatever this machine has
            # learned, so that a cassette replays anywhere: they always learn.
            return None
        if self._way is None and not self._way_loaded and self._sessions is not None:
            self._way_loaded = True
            self._way = self._sessions.remembered_settings_way()
        way = self._way
        return way if way is not None and way.serves(settings) else None

    def _remember_way(self, route: Route, way: SettingsWay) -> None:
        if way == self._way:
            return
        self._way = way
        logger.info("%s takes room settings this way: %s", route.base_url, way.describe())
        if self._sessions is not None and active_cassette() is None:
            self._sessions.remember_settings_way(way)

    def _forget_way(self) -> None:
        self._way = None
        if self._sessions is not None:
            self._sessions.forget_settings_way()

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
                    await _cancel_request(socket)
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
                    await _cancel_request(socket)
            await socket.close()

        self._cleanup.in_background(finish)


async def _cancel_request(socket: WebSocket) -> None:
    """Cancel the room's chat request, and wait (briefly) for the room to say it ended.

    Closing at once loses the cancel about one time in three: the server (the Agents SDK in
    workerd) never reads a cancel that came just before the socket closed, and the reply runs
    on to its end.
    """
    await socket.send(cancel_frame())
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(CANCEL_SECONDS):
            while not ends_chat_request(await socket.receive()):
                pass


async def _configure(
    socket: WebSocket, settings: RoomSettings, initial: dict[str, Any], way: SettingsWay
) -> RoomConfiguration:
    """Give the room its settings the way the site takes them; nothing is waited for.

    Unless the way says the site applies ``setConfig`` too late: then its answer is.
    ``setConfig`` is called only for settings the room does not already have: it costs the
    room a call before the chat request, on every conversation.
    """
    state = None
    if way.sends_state:
        state = room_state(initial, settings, with_system=way.system == "state")
        await socket.send(state_frame(state))
    configuration = RoomConfiguration(settings, initial, state_sent=state)
    with_system = way.system == "setConfig"
    lacking = settings.missing_in(initial)
    if way.sends_config and any(name != "system" or with_system for name in lacking):
        await _call_set_config(socket, configuration, SET_CONFIG_ID, with_system=with_system)
        if way.confirm_first:
            await _observe_until_answered(socket, configuration)
    return configuration


async def _call_set_config(
    socket: WebSocket, configuration: RoomConfiguration, rpc_id: str, *, with_system: bool
) -> None:
    args = config_args(configuration.settings, with_system=with_system)
    configuration.config_sent(rpc_id, args)
    await socket.send(rpc_frame(rpc_id, "setConfig", [args]))


async def _observe_until_answered(socket: WebSocket, configuration: RoomConfiguration) -> None:
    """Read the room's frames into ``configuration`` until every ``setConfig`` call is answered."""
    while configuration.config_pending:
        frame = parse_json_frame(await socket.receive(), "agent")
        if isinstance(frame, dict):
            configuration.observe(frame)


def _model_missing(configuration: RoomConfiguration) -> tuple[str, ...]:
    """The settings other than the system prompt the room lacks (the history can carry that)."""
    return tuple(name for name in configuration.missing if name != "system")


def _learned_way(configuration: RoomConfiguration, failed_way: SettingsWay | None) -> SettingsWay:
    """The way of taking settings a learning conversation's frames show.

    A setting asked with the value the room had anyway shows nothing of how it is taken: then
    both carriers are kept for the model, and the system prompt's stays unknown.
    """
    settings, initial = configuration.settings, configuration.initial_state
    after_state, final = configuration.after_state, configuration.state
    model_keys = {"model", "temperature"}
    unchanged = not (model_keys & set(settings.missing_in(initial)))
    config = configuration.config_reply(SET_CONFIG_ID) or configuration.config_reply(
        SET_CONFIG_AGAIN_ID
    )
    config_ok = config is not None and config.success
    if after_state is None or unchanged:  # the state frame's effects cannot be told apart
        model: tuple[Carrier, ...] = ("state", "setConfig") if config_ok else ("state",)
    elif model_keys & set(settings.missing_in(after_state)):
        model = ("setConfig",)
    else:
        model = ("state",)
    system: SystemCarrier | None = None
    if settings.system is not None and initial.get("system") != settings.system:
        if after_state is not None and after_state.get("system") == settings.system:
            system = "state"
        elif final.get("system") == settings.system:
            system = "setConfig" if after_state is not None else "state"
        else:
            system = "history"
    way = SettingsWay(model, system)
    if failed_way is not None and (failed_way.model, failed_way.system) == (model, system):
        way = _other_than(way, configuration, config_ok=config_ok)
    return way


def _other_than(
    failed: SettingsWay, configuration: RoomConfiguration, *, config_ok: bool
) -> SettingsWay:
    """A way other than ``failed``, which this conversation's frames showed working.

    It failed sent in one go: what the state frame did was undone after the probe was answered
    (setConfig then carries what it can, the history the system prompt), or ``setConfig`` is
    applied too late for a chat request right behind it (then it is waited for).
    """
    model, system = failed.model, failed.system
    if model == ("state",) and config_ok:
        model = ("setConfig",)
    if system == "state":
        asked = configuration.settings.system
        system = (
            "setConfig" if config_ok and configuration.state.get("system") == asked else "history"
        )
    if (model, system) == (failed.model, failed.system):
        return dataclasses.replace(failed, confirm_first=True)
    return SettingsWay(model, system)


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
    """What identifies a conversation to a recorder: settings and history, nothing random.

    An image is there by its media type and SHA-256, never its bytes: a recording holds the
    frames it was sent anyway, and a key must stay small.
    """
    return {
        "model": request.model,
        "temperature": request.temperature,
        "system": request.conversation.system,
        "messages": [_turn_key(m) for m in request.conversation.turns],
    }


def _turn_key(turn: Message) -> list[object]:
    key: list[object] = [turn.role, turn.content]
    if turn.images:  # only then: the keys of recordings without images stay as they were
        key.append([f"{image.media_type} sha256:{image.sha256}" for image in turn.images])
    return key
