"""The Agents frames (live since 2025-10-28): the Agents SDK chat protocol over a WebSocket.

A conversation is one connection to a fresh room ``/agents/playground/{room}``. The client
gives the room its settings (model, temperature, system prompt) the way the site takes them (the
room's state, a ``setConfig`` call, or the history; :class:`SettingsWay`), sends the whole history
as UI messages in one ``cf_agent_use_chat_request``, and reads ``cf_agent_use_chat_response``
frames whose ``body`` holds AI SDK UI-message-stream chunks, once what the room says of its state
shows the settings took (:class:`RoomConfiguration`). Everything here is pure: frames in and out
as strings, no network.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from langchain_cloudflare_playground.client.errors import (
    ModelSettingsRefusedError,
    PlaygroundAPIError,
    PlaygroundProtocolError,
    make_stream_error,
)
from langchain_cloudflare_playground.client.events import Finish, ReasoningDelta, TextDelta
from langchain_cloudflare_playground.client.wire_formats.base import ChatRequest, parse_json_frame

if TYPE_CHECKING:
    from langchain_cloudflare_playground.client.events import ChatEvent
    from langchain_cloudflare_playground.client.images import ImagePart
    from langchain_cloudflare_playground.client.messages import Conversation

__all__ = [
    "AGENT_PATH",
    "CHAT_REQUEST_ID",
    "RESUME_PROBE_ID",
    "SETTINGS_PROBE_ID",
    "SET_CONFIG_AGAIN_ID",
    "SET_CONFIG_ID",
    "AgentChatDecoder",
    "ReplyProgress",
    "RoomConfiguration",
    "RoomSettings",
    "RpcReply",
    "SettingsWay",
    "agent_url",
    "cancel_frame",
    "chat_frame",
    "config_args",
    "decode_rpc_reply",
    "ends_chat_request",
    "holds_message",
    "is_initial_state",
    "last_sent_id",
    "new_room",
    "parse_resume_signal",
    "parse_rpc_reply",
    "resume_ack_frame",
    "resume_probe_frame",
    "resume_request_frame",
    "room_state",
    "rpc_frame",
    "set_config_frame",
    "settings_probe_frame",
    "state_frame",
    "stored_finish_reason",
    "stored_messages_path",
    "stored_reply",
]

AGENT_PATH = "/agents/playground"
# Ids only need to be unique within one connection, and each conversation has its own. Fixed
# ids keep recorded conversations (cassettes) identical from one run to the next.
CHAT_REQUEST_ID = "chat-1"
SET_CONFIG_ID = "config-1"
# While learning a site's way of taking settings: a second setConfig without the system prompt,
# for a server that refused the first for carrying one.
SET_CONFIG_AGAIN_ID = "config-2"
SETTINGS_PROBE_ID = "settings-probe-1"
_SETTINGS_PROBE_METHOD = "settingsProbe"
_STATE = "cf_agent_state"
_STATE_ERROR = "cf_agent_state_error"
_CHAT_RESPONSE = "cf_agent_use_chat_response"
_RESUMING = "cf_agent_stream_resuming"
_RESUME_NONE = "cf_agent_stream_resume_none"
# Asked after the resume request on a reconnect: a server that answers it before saying anything
# of resuming has no resume frames (SDK versions of 2025). Any answer will do, even "does not
# exist"; the SDK handles a connection's frames in order.
RESUME_PROBE_ID = "resume-probe-1"
_RESUME_PROBE_METHOD = "resumeProbe"
# What the Agents SDK answers a call of a method the agent lacks, or has without @callable
# (agents/src/index.ts, the "rpc" branch of onMessage).
_MISSING_METHOD = re.compile(r"^Method \S+ (?:does not exist|is not callable)$")


def new_room() -> str:
    """A fresh room name, as the site makes them: rooms keep history, so never reuse one."""
    return f"Cloudflare-AI-Playground-{secrets.token_hex(8)}"


def agent_url(base_url: str, room: str) -> str:
    """The WebSocket URL of ``room`` on the playground at ``base_url``."""
    scheme, _, rest = base_url.partition("://")
    ws_scheme = "wss" if scheme == "https" else "ws"
    return f"{ws_scheme}://{rest.rstrip('/')}{AGENT_PATH}/{quote(room)}?_pk={uuid.uuid4()}"


def is_initial_state(frame: dict[str, Any]) -> bool:
    """Whether ``frame`` is the room state the server sends on connect."""
    return frame.get("type") == _STATE and isinstance(frame.get("state"), dict)


def room_state(
    server_state: dict[str, Any], settings: RoomSettings, *, with_system: bool = True
) -> dict[str, Any]:
    """The room state with our model, temperature and (``with_system``) system prompt on top.

    A client state replaces the whole state, so keys the server keeps there (and this client does
    not know) are carried over rather than wiped.
    """
    state = {**server_state, "model": settings.model, "stream": True}
    if settings.temperature is not None:
        state["temperature"] = settings.temperature
    if with_system and settings.system is not None:
        state["system"] = settings.system
    return state


def state_frame(state: dict[str, Any]) -> str:
    """The frame giving the room ``state`` (made by :func:`room_state`)."""
    return json.dumps({"type": _STATE, "state": state})


def chat_frame(conversation: Conversation, *, system_in_messages: bool = False) -> str:
    """The chat request carrying the whole history as UI messages.

    The system prompt travels in the room's settings; ``system_in_messages`` puts it in the
    history instead, for a server that takes it no other way.
    """
    messages: list[dict[str, Any]] = []
    if system_in_messages and conversation.system is not None:
        messages.append(_ui_message("system", conversation.system, 0))
    messages.extend(
        _ui_message(m.role, m.content, index, m.images)
        for index, m in enumerate(conversation.turns, start=len(messages))
    )
    body = json.dumps({"messages": messages, "trigger": "submit-message"})
    return json.dumps(
        {
            "type": "cf_agent_use_chat_request",
            "id": CHAT_REQUEST_ID,
            "init": {"method": "POST", "body": body},
        }
    )


def _ui_message(
    role: str, text: str, index: int, images: tuple[ImagePart, ...] = ()
) -> dict[str, Any]:
    # Images as the AI SDK's own client sends attachments (FileUIParts, data URLs, before the
    # text: ai's AbstractChat.sendMessage); convertToModelMessages makes file parts of them.
    parts: list[dict[str, Any]] = [
        {"type": "file", "mediaType": image.media_type, "url": image.data_url()} for image in images
    ]
    parts.append({"type": "text", "text": text})
    return {"id": f"msg-{index}", "role": role, "parts": parts}


def resume_request_frame() -> str:
    """Ask a room whether a reply is running (the SDK's client sends it on every connect)."""
    return json.dumps({"type": "cf_agent_stream_resume_request"})


def resume_probe_frame() -> str:
    """An RPC call any server answers, sent after the resume request (see ``RESUME_PROBE_ID``)."""
    return rpc_frame(RESUME_PROBE_ID, _RESUME_PROBE_METHOD, [])


def resume_ack_frame(request_id: str) -> str:
    """Take up the running reply ``request_id``: the server replays it from the start, then live."""
    return json.dumps({"type": "cf_agent_stream_resume_ack", "id": request_id})


def parse_resume_signal(raw: str) -> str | None:
    """What ``raw`` says about resuming our chat request, on a connection made to resume it.

    ``"resuming"``: our reply is running (ack it); ``"none"``: nothing runs in the room;
    ``"no-resume"``: the server answered the probe first, so it has no resume frames; ``None``:
    any other frame.
    """
    frame = parse_json_frame(raw, "agent")
    if not isinstance(frame, dict):
        return None
    kind = frame.get("type")
    if kind == _RESUMING:
        return "resuming" if frame.get("id") == CHAT_REQUEST_ID else "none"
    if kind == _RESUME_NONE:
        return "none"
    reply = parse_rpc_reply(frame)
    if reply is not None and reply.id == RESUME_PROBE_ID:
        return "no-resume"
    return None


def stored_messages_path(room: str) -> str:
    """The path of ``room``'s stored UI messages (``GET``), below the playground's base URL."""
    return f"{AGENT_PATH}/{quote(room)}/get-messages"


def last_sent_id(conversation: Conversation, *, system_in_messages: bool) -> str:
    """The id :func:`chat_frame` gave the last message of ``conversation``."""
    extra = 1 if system_in_messages and conversation.system is not None else 0
    return f"msg-{len(conversation.turns) - 1 + extra}"


class ReplyProgress:
    """What the caller has seen of one reply: how many characters of each part, by part id.

    A resumed stream is replayed from its beginning, so after a reconnect every part is counted
    again from zero and only what goes past what the caller has is passed on (by part id and
    offset, never by searching the text). A reply read back from the room's stored messages is
    matched part by part: the n-th stored text (or reasoning) part is the n-th one streamed.
    """

    def __init__(self) -> None:
        """Nothing seen yet."""
        self._seen: dict[tuple[str, str | None], int] = {}
        self._received: dict[tuple[str, str | None], int] = {}

    def restart(self) -> None:
        """The stream starts again from its beginning (a replay after a reconnect)."""
        self._received = {}

    def take(self, kind: str, part_id: str | None, delta: str) -> str:
        """The part of ``delta`` (of part ``part_id`` of ``kind``) the caller has not seen."""
        key = (kind, part_id)
        offset = self._received.get(key, 0)
        end = offset + len(delta)
        self._received[key] = end
        seen = self._seen.get(key, 0)
        if seen <= offset:  # none of it seen: every delta of a reply that was not replayed
            self._seen[key] = end
            return delta
        self._seen[key] = max(seen, end)
        return delta[seen - offset :]

    @property
    def nothing_seen(self) -> bool:
        """Whether no character of the reply reached the caller yet."""
        return not any(self._seen.values())

    def seen(self, kind: str, index: int) -> int:
        """Characters the caller has of the ``index``-th part of ``kind`` (0 if never streamed)."""
        lengths = [length for (k, _), length in self._seen.items() if k == kind]
        return lengths[index] if index < len(lengths) else 0

    def unseen_tail(self, message: dict[str, Any]) -> list[ChatEvent]:
        """What the caller has not seen of the stored UI ``message``, in part order."""
        events: list[ChatEvent] = []
        counts = {"text": 0, "reasoning": 0}
        for part in message.get("parts") or []:
            if not isinstance(part, dict) or part.get("type") not in counts:
                continue
            kind = str(part["type"])
            text = part.get("text")
            index = counts[kind]
            counts[kind] += 1
            if not isinstance(text, str):
                continue
            tail = text[self.seen(kind, index) :]
            if tail:
                events.append(TextDelta(tail) if kind == "text" else ReasoningDelta(tail))
        return events


def holds_message(messages: object, message_id: str) -> bool:
    """Whether the room's ``get-messages`` answer holds the message ``message_id``."""
    return isinstance(messages, list) and any(
        isinstance(m, dict) and m.get("id") == message_id for m in messages
    )


def stored_reply(messages: object, after_id: str) -> dict[str, Any] | None:
    """The finished assistant message that answers the message ``after_id``, if stored.

    ``messages`` is the room's ``get-messages`` answer. ``None`` when the room does not hold it
    (no such message, no answer after it, or an answer still streaming).
    """
    if not isinstance(messages, list):
        return None
    ids = [m.get("id") if isinstance(m, dict) else None for m in messages]
    if after_id not in ids:
        return None
    following = messages[ids.index(after_id) + 1 :]
    answer = next(
        (m for m in following if isinstance(m, dict) and m.get("role") == "assistant"), None
    )
    if answer is None:
        return None
    parts = answer.get("parts")
    if not isinstance(parts, list):
        return None
    if any(isinstance(p, dict) and p.get("state") == "streaming" for p in parts):
        return None
    return answer


def stored_finish_reason(message: dict[str, Any]) -> str | None:
    """The finish reason kept in a stored message's metadata, if any."""
    metadata = message.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("finishReason"), str):
        return str(metadata["finishReason"])
    return None


def cancel_frame() -> str:
    """Ask the server to stop generating the reply to the chat request."""
    return json.dumps({"type": "cf_agent_chat_request_cancel", "id": CHAT_REQUEST_ID})


def ends_chat_request(raw: str) -> bool:
    """Whether ``raw`` is the room's word that the chat request ended (finished or cancelled)."""
    if '"done"' not in raw:  # most frames, read without parsing
        return False
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return (
        isinstance(frame, dict)
        and frame.get("type") == _CHAT_RESPONSE
        and frame.get("id") == CHAT_REQUEST_ID
        and frame.get("done") is True
    )


def rpc_frame(rpc_id: str, method: str, args: list[Any]) -> str:
    """Call a ``@callable`` method of the agent."""
    return json.dumps({"type": "rpc", "id": rpc_id, "method": method, "args": args})


def config_args(settings: RoomSettings, *, with_system: bool = False) -> dict[str, Any]:
    """``setConfig``'s argument, in the shape captured from the live site's own client.

    The live site's client sends no system prompt: ``with_system`` adds one, for a server whose
    ``setConfig`` takes it (learned on the first conversation, see :class:`SettingsWay`).
    """
    config: dict[str, Any] = {"model": settings.model, "stream": True}
    if settings.temperature is not None:
        config["temperature"] = settings.temperature
    if with_system and settings.system is not None:
        config["system"] = settings.system
    return config


def set_config_frame(
    settings: RoomSettings, *, with_system: bool = False, rpc_id: str = SET_CONFIG_ID
) -> str:
    """The ``setConfig`` call choosing the model and temperature (and maybe the system prompt)."""
    return rpc_frame(rpc_id, "setConfig", [config_args(settings, with_system=with_system)])


def settings_probe_frame() -> str:
    """An RPC call any server answers at once, sent after the state frame while learning.

    The server handles a connection's frames in order, so whatever the state frame caused (a
    refusal, a broadcast putting the server's values back) has reached us when this is answered.
    """
    return rpc_frame(SETTINGS_PROBE_ID, _SETTINGS_PROBE_METHOD, [])


@dataclass(frozen=True, slots=True)
class RpcReply:
    """The server's answer to one RPC call.

    The Agents SDK answers ``{"type":"rpc","id","success":true,"result"?,"done":true}`` (no
    ``result`` key when the method returned nothing; ``done:false`` frames before it for a
    streaming method) or ``{"type":"rpc","id","success":false,"error":"<message>"}``.
    """

    id: str
    success: bool
    result: Any = None
    error: str = ""

    @property
    def method_missing(self) -> bool:
        """Whether the call failed only because the agent has no such callable method."""
        return not self.success and _MISSING_METHOD.match(self.error) is not None


def parse_rpc_reply(frame: object) -> RpcReply | None:
    """The RPC reply ``frame`` (a parsed frame) holds, or ``None`` for any other frame."""
    if not isinstance(frame, dict) or frame.get("type") != "rpc":
        return None
    rpc_id = frame.get("id")
    if not isinstance(rpc_id, str):
        return None
    if frame.get("success") is False:
        error = frame.get("error")
        return RpcReply(rpc_id, success=False, error=str(error) if error else "no reason given")
    return RpcReply(rpc_id, success=True, result=frame.get("result"))


def decode_rpc_reply(raw: str, rpc_id: str) -> tuple[bool, Any]:
    """``(True, result)`` when ``raw`` answers ``rpc_id``, ``(False, None)`` for other frames.

    Raises:
        PlaygroundAPIError: the call failed on the server.
    """
    reply = parse_rpc_reply(parse_json_frame(raw, "agent"))
    if reply is None or reply.id != rpc_id:
        return False, None
    if not reply.success:
        msg = f"the playground refused the call: {reply.error}"
        raise PlaygroundAPIError(msg)
    return True, reply.result


@dataclass(frozen=True, slots=True)
class RoomSettings:
    """The settings one conversation asks its room to run with (``None``: the room's own)."""

    model: str
    temperature: float | None = None
    system: str | None = None

    @classmethod
    def of(cls, request: ChatRequest) -> RoomSettings:
        """The settings ``request`` asks for."""
        return cls(request.model, request.temperature, request.conversation.system)

    def missing_in(self, state: dict[str, Any]) -> tuple[str, ...]:
        """The settings ``state`` does not hold as asked: ``model``, ``temperature``, ``system``."""
        missing: list[str] = []
        if state.get("model") != self.model:
            missing.append("model")
        if self.temperature is not None and not _same_number(
            state.get("temperature"), self.temperature
        ):
            missing.append("temperature")
        if self.system is not None and state.get("system") != self.system:
            missing.append("system")
        return tuple(missing)


def _same_number(value: object, wanted: float) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and abs(value - wanted) <= 1e-9 * max(1.0, abs(wanted))
    )


Carrier = Literal["state", "setConfig"]
SystemCarrier = Literal["state", "setConfig", "history"]
_CARRIERS: tuple[Carrier, ...] = ("state", "setConfig")
_SYSTEM_CARRIERS: tuple[SystemCarrier, ...] = ("state", "setConfig", "history")


@dataclass(frozen=True, slots=True)
class SettingsWay:
    """How a site's rooms take their settings, learned on a first conversation.

    Attributes:
        model: What carries the model and temperature: the state frame, ``setConfig``, or both
            (when the first conversation could not tell which of the two did it).
        system: What carries the system prompt: the state frame, ``setConfig``, or the history
            (a ``system`` UI message, the way of last resort: the room's own system prompt then
            reaches the model too); ``None`` until a conversation had a system prompt.
        confirm_first: Wait for ``setConfig`` to answer before sending the chat request: the site
            applies it too late for a chat request sent right behind it.
    """

    model: tuple[Carrier, ...]
    system: SystemCarrier | None = None
    confirm_first: bool = False

    def serves(self, settings: RoomSettings) -> bool:
        """Whether this way knows how to give every setting of ``settings``."""
        return settings.system is None or self.system is not None

    @property
    def sends_state(self) -> bool:
        """Whether rooms get the state frame."""
        return "state" in self.model or self.system == "state"

    @property
    def sends_config(self) -> bool:
        """Whether rooms get the ``setConfig`` call."""
        return "setConfig" in self.model or self.system == "setConfig"

    def describe(self) -> str:
        """The way in words, for logs and ``cf-playground session``."""
        names = {"state": "the room state", "setConfig": "setConfig", "history": "the history"}
        model = " and ".join(names[carrier] for carrier in self.model)
        system = "not learned yet" if self.system is None else f"by {names[self.system]}"
        wait = "; setConfig's answer is waited for" if self.confirm_first else ""
        return f"model and temperature by {model}, system prompt {system}{wait}"

    def to_json(self) -> dict[str, Any]:
        """The way as the session cache stores it."""
        return {
            "model": list(self.model),
            "system": self.system,
            "confirm_first": self.confirm_first,
        }

    @classmethod
    def from_json(cls, entry: object) -> SettingsWay | None:
        """A way read back from the session cache; ``None`` if it is not one."""
        if not isinstance(entry, dict):
            return None
        model, system = entry.get("model"), entry.get("system")
        if not (
            isinstance(model, list)
            and model
            and all(carrier in _CARRIERS for carrier in model)
            and (system is None or system in _SYSTEM_CARRIERS)
            and isinstance(entry.get("confirm_first", False), bool)
        ):
            return None
        return cls(tuple(model), system, bool(entry.get("confirm_first", False)))


class RoomConfiguration:
    """What the frames of one room say its settings are, and how each way of giving them went.

    From the Agents SDK (``agents/src/index.ts``, the state capability and ``onMessage``): a state
    frame a server takes is not echoed to its sender, one it refuses is answered at once with
    ``cf_agent_state_error``, and every change the server itself makes to the state (what
    ``setConfig`` sets, or its own values put back over ours) is broadcast to every connection,
    the sender's too. So the room's state, as far as the frames tell, is the last state
    broadcast, else the state we sent unless it was refused, else the state it had on connect. A
    ``setConfig`` that succeeds is taken at its word when its answer holds the new settings, or
    when nothing was broadcast after it was called (a server keeping them outside the state).

    The reply runs with the state the room has when it starts, so that is the state checked:
    at the reply's first frame. A missing setting raises :class:`ModelSettingsRefusedError`
    before any of the reply reaches the caller; a ``setConfig`` still unanswered then is waited
    for first (:attr:`unconfirmed`).
    """

    def __init__(
        self,
        settings: RoomSettings,
        initial_state: dict[str, Any],
        *,
        state_sent: dict[str, Any] | None = None,
    ) -> None:
        """Track a room that had ``initial_state`` on connect and was sent ``state_sent``."""
        self.settings = settings
        self.initial_state = dict(initial_state)
        self.state_sent = state_sent is not None
        self.state: dict[str, Any] = dict(state_sent if state_sent is not None else initial_state)
        self.state_error: str | None = None
        # The system prompt travels in the history (a system UI message), not in the room.
        self.system_in_history = False
        self.after_state: dict[str, Any] | None = None  # the state when the probe was answered
        self.replies: dict[str, RpcReply] = {}
        self._configs: dict[str, dict[str, Any]] = {}  # setConfig calls sent, by RPC id
        self._broadcasts = 0  # state broadcasts since the probe was answered (or since the start)
        self._started = False
        self._confirmed = False

    def config_sent(self, rpc_id: str, args: dict[str, Any]) -> None:
        """Note a ``setConfig`` call sent as ``rpc_id`` with ``args``."""
        self._configs[rpc_id] = args

    @property
    def config_pending(self) -> bool:
        """Whether a ``setConfig`` call sent is still unanswered."""
        return any(rpc_id not in self.replies for rpc_id in self._configs)

    def config_reply(self, rpc_id: str = SET_CONFIG_ID) -> RpcReply | None:
        """The answer to the ``setConfig`` call ``rpc_id``, once it came."""
        return self.replies.get(rpc_id)

    @property
    def missing(self) -> tuple[str, ...]:
        """The settings the room's state does not hold as asked (and the history does not carry)."""
        missing = self.settings.missing_in(self.state)
        return tuple(m for m in missing if m != "system") if self.system_in_history else missing

    @property
    def unconfirmed(self) -> bool:
        """Whether the reply started before its settings could be checked: hold it back."""
        return self._started and not self._confirmed

    def observe(self, frame: dict[str, Any]) -> None:
        """Take note of ``frame`` (a parsed frame) if it tells about the room's settings.

        Raises:
            ModelSettingsRefusedError: the reply started, and its room lacks a setting.
        """
        kind = frame.get("type")
        if kind == _STATE_ERROR and self.state_sent and self.state_error is None:
            error = frame.get("error")
            self.state_error = str(error) if error else "no reason given"
            if not self._started:
                self.state = dict(self.initial_state)
        elif kind == _STATE and isinstance(frame.get("state"), dict):
            if not self._started:  # later changes do not touch a reply already running
                self.state = dict(frame["state"])
                self._broadcasts += 1
        elif kind == "rpc":
            reply = parse_rpc_reply(frame)
            if reply is not None and reply.id not in self.replies:
                self._answered(reply)
        if self.unconfirmed:
            self._check()

    def _answered(self, reply: RpcReply) -> None:
        self.replies[reply.id] = reply
        if reply.id == SETTINGS_PROBE_ID:
            self.after_state = dict(self.state)
            self._broadcasts = 0
            return
        args = self._configs.get(reply.id)
        if args is None or not reply.success:
            return
        result = reply.result
        if isinstance(result, dict) and any(key in result for key in _SETTING_KEYS):
            self.state.update({k: result[k] for k in _SETTING_KEYS if k in result})
        elif self._broadcasts == 0:
            self.state.update({k: args[k] for k in _SETTING_KEYS if k in args})

    def reply_started(self) -> None:
        """The reply's first frame came: the room runs with the state it has now.

        Raises:
            ModelSettingsRefusedError: the room lacks a setting, and no ``setConfig`` is left
                to answer.
        """
        if not self._started:
            self._started = True
            self._check()

    def _check(self) -> None:
        missing = self.missing
        if not missing:
            self._confirmed = True
        elif not self.config_pending:  # else setConfig may yet say it took them
            raise self.refusal(missing)

    def refusal(self, missing: tuple[str, ...]) -> ModelSettingsRefusedError:
        """The error for a room that lacks the settings ``missing``, saying what each way did."""
        return ModelSettingsRefusedError(
            self.settings.model,
            self.state_error,
            self._config_error(),
            settings=missing,
            temperature=self.settings.temperature,
            reasons=self._reasons(),
            room={key: self.state.get(key) for key in ("model", "temperature")},
        )

    def _config_error(self) -> str | None:
        for reply in (self.replies.get(rpc_id) for rpc_id in self._configs):
            if reply is not None and not reply.success:
                return reply.error
        return None

    def _reasons(self) -> list[str]:
        reasons: list[str] = []
        if self.state_error is not None:
            reasons.append(f"it refused the room state ({self.state_error})")
        elif self.state_sent:
            reasons.append("it took the room state and put its own values back")
        for rpc_id in self._configs:
            reply = self.replies.get(rpc_id)
            if reply is None:
                reasons.append("setConfig never answered")
            elif reply.method_missing:
                reasons.append("it has no setConfig")
            elif not reply.success:
                reasons.append(f"it refused the setConfig call ({reply.error})")
            else:
                reasons.append("setConfig left them as they were")
        return reasons or ["it was given them the way it took them before, and refused"]


_SETTING_KEYS = ("model", "temperature", "system")


# Nearly every frame of a reply is one text (or reasoning) delta of our request, in the SDK's
# own shape (keys in this order, a ``seq`` number on newer SDKs). Matched whole, with an id and
# a delta that hold no quote, backslash or control character, such a frame means exactly what
# its two JSON parses would give, at a fraction of their cost; every other frame (other keys,
# other orders, escapes, an empty delta) is parsed. The parts: kind, part id, delta.
_JSON_PLAIN = r'[^"\\\x00-\x1f]'
_PLAIN_DELTA_FRAME = re.compile(
    r'\{"body":"\{\\"type\\":\\"(text|reasoning)-delta\\",'
    rf'\\"id\\":\\"({_JSON_PLAIN}*)\\",\\"delta\\":\\"({_JSON_PLAIN}+)\\"\}}",'
    rf'"done":false,"id":"{re.escape(CHAT_REQUEST_ID)}","type":"{_CHAT_RESPONSE}"'
    r'(?:,"seq":(?:0|[1-9][0-9]*))?\}'
)


class AgentChatDecoder:
    """Decodes the frames of one conversation into events.

    Frames for other requests (the server broadcasts every response to the room), state, identity
    and RPC frames are skipped, once :attr:`configuration` has seen them. Chunk types this client
    does not show are skipped too, so a newer AI SDK does not break it.
    """

    def __init__(self, model: str, configuration: RoomConfiguration | None = None) -> None:
        """Decode a reply from ``model``; with ``configuration``, check its room's settings."""
        self.model = model
        self.configuration = configuration
        self._finish_reason: str | None = None
        self._done = False
        self._finished = False
        self.progress = ReplyProgress()

    @property
    def done(self) -> bool:
        """Whether the server marked the request done."""
        return self._done

    @property
    def finished(self) -> bool:
        """Whether the reply's ``finish`` chunk came (its text is whole)."""
        return self._finished

    @property
    def finish_reason(self) -> str | None:
        """The finish reason the server reported so far."""
        return self._finish_reason

    def feed(self, raw: str) -> list[ChatEvent]:
        """Decode one WebSocket text frame.

        Raises:
            ModelSettingsRefusedError: the reply started in a room that lacks a setting asked for.
            PlaygroundAPIError: the server reported an error for the request.
        """
        if not self._done:
            plain = _PLAIN_DELTA_FRAME.fullmatch(raw)
            if plain is not None:
                if self.configuration is not None:
                    self.configuration.reply_started()
                kind, part_id, delta = plain.groups()
                if kind == "text":
                    unseen = self.progress.take("text", part_id, delta)
                    return [TextDelta(unseen)] if unseen else []
                unseen = self.progress.take("reasoning", part_id, delta)
                return [ReasoningDelta(unseen)] if unseen else []
        return self._feed_parsed(raw)

    def _feed_parsed(self, raw: str) -> list[ChatEvent]:
        """:meth:`feed` by parsing the frame and its body as JSON: every frame can go this way."""
        frame = parse_json_frame(raw, "agent")
        if not isinstance(frame, dict):
            return []
        if self.configuration is not None:
            self.configuration.observe(frame)
        if self._done or frame.get("type") != _CHAT_RESPONSE or frame.get("id") != CHAT_REQUEST_ID:
            return []
        if self.configuration is not None:
            self.configuration.reply_started()
        body = frame.get("body")
        if frame.get("error"):
            raise make_stream_error(_error_message(body))
        events = self._decode_chunk(body) if isinstance(body, str) and body else []
        if frame.get("done"):
            self._done = True
            events.append(Finish(self._finish_reason, None, self.model))
        return events

    def _note_finish(self, chunk: dict[str, Any]) -> None:
        """Keep the finish reason a ``finish`` (or metadata) chunk reports."""
        kind = chunk.get("type")
        if kind == "finish":
            self._finished = True
        if kind in ("finish", "message-metadata"):
            metadata = chunk.get("messageMetadata")
            reason = chunk.get("finishReason")
            if isinstance(metadata, dict) and isinstance(metadata.get("finishReason"), str):
                reason = metadata["finishReason"]
            if isinstance(reason, str):
                self._finish_reason = reason

    def _decode_chunk(self, body: str) -> list[ChatEvent]:
        try:
            chunk = json.loads(body)
        except ValueError:
            # A done frame may carry plain text ("No response was generated by the agent.").
            return []
        except RecursionError:
            msg = f"agent chunk from the server is nested too deeply to read: {body[:120]!r}"
            raise PlaygroundProtocolError(msg) from None
        if not isinstance(chunk, dict):
            return []
        kind = chunk.get("type")
        delta = chunk.get("delta")
        part_id = chunk.get("id") if isinstance(chunk.get("id"), str) else None
        if kind == "text-delta" and isinstance(delta, str) and delta:
            unseen = self.progress.take("text", part_id, delta)
            return [TextDelta(unseen)] if unseen else []
        if kind == "reasoning-delta" and isinstance(delta, str) and delta:
            unseen = self.progress.take("reasoning", part_id, delta)
            return [ReasoningDelta(unseen)] if unseen else []
        if kind == "error":  # older servers forward the AI SDK's error chunk as it is
            raise make_stream_error(str(chunk.get("errorText") or "the model failed"))
        self._note_finish(chunk)
        return []


def _error_message(body: object) -> str:
    """The server's error text: plain, or the live site's ``{"message", "details"}`` JSON."""
    if not isinstance(body, str) or not body:
        return "the playground reported an error without a message"
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # not readable JSON: the text is the message
        return body
    if isinstance(parsed, dict) and ("message" in parsed or "details" in parsed):
        parts = [str(parsed[key]) for key in ("message", "details") if parsed.get(key)]
        return " ".join(parts)
    return body
