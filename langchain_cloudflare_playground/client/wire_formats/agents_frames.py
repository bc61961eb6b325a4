"""The Agents frames (live since 2025-10-28): the Agents SDK chat protocol over a WebSocket.

A conversation is one connection to a fresh room ``/agents/playground/{room}``. The client merges
its model, temperature and system prompt into the room's state, sends the whole history as UI
messages in one ``cf_agent_use_chat_request``, and reads ``cf_agent_use_chat_response`` frames
whose ``body`` holds AI SDK UI-message-stream chunks. Everything here is pure: frames in and out
as strings, no network.
"""

from __future__ import annotations

import json
import secrets
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from langchain_cloudflare_playground.client.errors import (
    PlaygroundAPIError,
    PlaygroundProtocolError,
    make_stream_error,
)
from langchain_cloudflare_playground.client.events import Finish, ReasoningDelta, TextDelta
from langchain_cloudflare_playground.client.wire_formats.base import ChatRequest, parse_json_frame

if TYPE_CHECKING:
    from langchain_cloudflare_playground.client.events import ChatEvent
    from langchain_cloudflare_playground.client.messages import Conversation

__all__ = [
    "AGENT_PATH",
    "AgentChatDecoder",
    "StateRejectedError",
    "agent_url",
    "cancel_frame",
    "chat_frame",
    "decode_rpc_reply",
    "is_initial_state",
    "new_room",
    "rpc_frame",
    "state_frame",
]

AGENT_PATH = "/agents/playground"
# Ids only need to be unique within one connection, and each conversation has its own. Fixed
# ids keep recorded conversations (cassettes) identical from one run to the next.
CHAT_REQUEST_ID = "chat-1"
_STATE = "cf_agent_state"
_STATE_ERROR = "cf_agent_state_error"
_CHAT_RESPONSE = "cf_agent_use_chat_response"


class StateRejectedError(PlaygroundAPIError):
    """The server refused the client's room state; it must be configured another way."""


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


def state_frame(server_state: dict[str, Any], request: ChatRequest) -> str:
    """The room state with our model, temperature and system prompt laid over the server's.

    A client state replaces the whole state, so keys the server keeps there (and this client does
    not know) are carried over rather than wiped.
    """
    state = {**server_state, "model": request.model, "stream": True}
    if request.temperature is not None:
        state["temperature"] = request.temperature
    if request.conversation.system is not None:
        state["system"] = request.conversation.system
    return json.dumps({"type": _STATE, "state": state})


def chat_frame(conversation: Conversation, *, system_in_messages: bool = False) -> str:
    """The chat request carrying the whole history as UI messages.

    The system prompt travels in the room state; ``system_in_messages`` puts it in the history
    instead, for a server that refuses client state.
    """
    messages: list[dict[str, Any]] = []
    if system_in_messages and conversation.system is not None:
        messages.append(_ui_message("system", conversation.system, 0))
    messages.extend(
        _ui_message(m.role, m.content, index)
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


def _ui_message(role: str, text: str, index: int) -> dict[str, Any]:
    return {"id": f"msg-{index}", "role": role, "parts": [{"type": "text", "text": text}]}


def cancel_frame() -> str:
    """Ask the server to stop generating the reply to the chat request."""
    return json.dumps({"type": "cf_agent_chat_request_cancel", "id": CHAT_REQUEST_ID})


def rpc_frame(rpc_id: str, method: str, args: list[Any]) -> str:
    """Call a ``@callable`` method of the agent."""
    return json.dumps({"type": "rpc", "id": rpc_id, "method": method, "args": args})


def decode_rpc_reply(raw: str, rpc_id: str) -> tuple[bool, Any]:
    """``(True, result)`` when ``raw`` answers ``rpc_id``, ``(False, None)`` for other frames.

    Raises:
        PlaygroundAPIError: the call failed on the server.
    """
    frame = parse_json_frame(raw, "agent")
    if not isinstance(frame, dict) or frame.get("type") != "rpc" or frame.get("id") != rpc_id:
        return False, None
    if frame.get("success") is False:
        msg = f"the playground refused the call: {frame.get('error') or 'no reason given'}"
        raise PlaygroundAPIError(msg)
    return True, frame.get("result")


class AgentChatDecoder:
    """Decodes the frames of one conversation into events.

    Frames for other requests (the server broadcasts every response to the room), state, identity
    and RPC frames are skipped. Chunk types this client does not show are skipped too, so a newer
    AI SDK does not break it.
    """

    def __init__(self, model: str) -> None:
        """Decode a reply from ``model``."""
        self._model = model
        self._finish_reason: str | None = None
        self._done = False

    @property
    def done(self) -> bool:
        """Whether the server marked the request done."""
        return self._done

    def feed(self, raw: str) -> list[ChatEvent]:
        """Decode one WebSocket text frame."""
        frame = parse_json_frame(raw, "agent")
        if not isinstance(frame, dict) or self._done:
            return []
        kind = frame.get("type")
        if kind == _STATE_ERROR:
            msg = f"the playground rejected the model settings: {frame.get('error')}"
            raise StateRejectedError(msg)
        if kind != _CHAT_RESPONSE or frame.get("id") != CHAT_REQUEST_ID:
            return []
        body = frame.get("body")
        if frame.get("error"):
            raise make_stream_error(_error_message(body))
        events = self._decode_chunk(body) if isinstance(body, str) and body else []
        if frame.get("done"):
            self._done = True
            events.append(Finish(self._finish_reason, None, self._model))
        return events

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
        if kind == "text-delta" and isinstance(delta, str) and delta:
            return [TextDelta(delta)]
        if kind == "reasoning-delta" and isinstance(delta, str) and delta:
            return [ReasoningDelta(delta)]
        if kind == "error":  # older servers forward the AI SDK's error chunk as it is
            raise make_stream_error(str(chunk.get("errorText") or "the model failed"))
        if kind in ("finish", "message-metadata"):
            metadata = chunk.get("messageMetadata")
            reason = chunk.get("finishReason")
            if isinstance(metadata, dict) and isinstance(metadata.get("finishReason"), str):
                reason = metadata["finishReason"]
            if isinstance(reason, str):
                self._finish_reason = reason
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
