"""Each room is configured both ways at once, the room state and ``setConfig``, pipelined.

Against the real Agents SDK server (tests/agents_server) and its variants, reached at
``/variant/<agent>/agents/playground/<room>``: with ``setConfig`` (the default agent, as the live
site), without it (as the last public code), with a ``setConfig`` that refuses, one that refuses
client state, one that refuses both (at once, or ``setConfig`` after 2 s), and one that answers
``setConfig`` only after 2 s.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

import pytest
from langchain_core.exceptions import ModelInvalidRequestError

from langchain_cloudflare_playground import ChatCloudflarePlayground
from langchain_cloudflare_playground.client import (
    AiohttpTransport,
    ModelSettingsRefusedError,
    PlaygroundClient,
    TextDelta,
)
from tests.helpers import echo_fields

QWQ = "@cf/qwen/qwq-32b"
SLOW_SET_CONFIG_S = 2.0  # SLOW_SET_CONFIG_MS in tests/agents_server/src/index.ts


@dataclass
class Call:
    """One send() or receive() of a socket: when it returned, and the frame."""

    op: str
    at: float
    frame: dict = field(repr=False)


class RecordingSocket:
    def __init__(self, inner, calls: list[Call]) -> None:
        self.inner = inner
        self.calls = calls

    async def send(self, frame: str) -> None:
        await self.inner.send(frame)
        self.calls.append(Call("send", time.monotonic(), json.loads(frame)))

    async def receive(self) -> str:
        frame = await self.inner.receive()
        self.calls.append(Call("receive", time.monotonic(), json.loads(frame)))
        return frame

    def conversation_ended(self) -> None:
        self.inner.conversation_ended()

    async def close(self) -> None:
        await self.inner.close()


class RecordingTransport:
    """aiohttp underneath; every WebSocket's sends and receives recorded, in order, per room."""

    def __init__(self) -> None:
        self.inner = AiohttpTransport(timeout=10)
        self.rooms: list[list[Call]] = []

    def stream(self, request):
        return self.inner.stream(request)

    async def open_websocket(self, request):
        self.rooms.append([])
        return RecordingSocket(await self.inner.open_websocket(request), self.rooms[-1])

    async def aclose(self) -> None:
        await self.inner.aclose()


def sent(calls: list[Call]) -> list[str]:
    return [c.frame.get("method") or c.frame["type"] for c in calls if c.op == "send"]


def received(calls: list[Call], kind: str) -> list[dict]:
    return [c.frame for c in calls if c.op == "receive" and c.frame.get("type") == kind]


def config_replies(calls: list[Call]) -> list[dict]:
    return [f for f in received(calls, "rpc") if f.get("id") == "config-1"]


@pytest.fixture
def variant(agents_server):
    def url(agent: str) -> str:
        return f"{agents_server.url}/variant/{agent}"

    return url


async def test_every_frame_goes_out_before_the_first_answer_is_read(agents_server):
    transport = RecordingTransport()
    async with PlaygroundClient(agents_server.url, transport=transport) as client:
        reply = await client.achat("hi", model="qwq-32b", temperature=0.5)
    assert echo_fields(reply.text[reply.text.index("Echo from") :])["model"] == QWQ
    [calls] = transport.rooms
    sends = [i for i, c in enumerate(calls) if c.op == "send"]
    assert sent(calls) == ["cf_agent_state", "setConfig", "cf_agent_use_chat_request"]
    # Before the sends only what the server pushes on connect was read (up to its state, whose
    # keys the client keeps); between them nothing at all: no frame waits for an answer.
    assert [c.frame["type"] for c in calls[: sends[0]]] == ["cf_agent_identity", "cf_agent_state"]
    assert sends == list(range(sends[0], sends[0] + 3))
    # The setConfig reply came back among the other frames, and it was a success.
    assert config_replies(calls) == [
        {"done": True, "id": "config-1", "success": True, "type": "rpc"}
    ]


async def test_a_slow_setconfig_reply_delays_nothing(variant):
    transport = RecordingTransport()
    async with PlaygroundClient(
        variant("playground-slow-set-config"), transport=transport, wire_format="agents"
    ) as client:
        started = time.monotonic()
        first_text = None
        text = ""
        async for event in client.astream_chat("hi", model="qwq-32b", temperature=0.5):
            if isinstance(event, TextDelta):
                first_text = first_text or time.monotonic() - started
                text += event.text
        finished = time.monotonic() - started
    assert first_text is not None
    assert first_text < SLOW_SET_CONFIG_S / 2
    assert finished < SLOW_SET_CONFIG_S / 2
    fields = echo_fields(text[text.index("Echo from") :])
    assert (fields["model"], fields["temperature"]) == (QWQ, "0.5")
    [calls] = transport.rooms
    assert sent(calls) == ["cf_agent_state", "setConfig", "cf_agent_use_chat_request"]
    assert config_replies(calls) == []  # the whole reply was read before setConfig answered


async def test_setconfig_chooses_the_model_when_the_state_is_refused(variant):
    transport = RecordingTransport()
    async with PlaygroundClient(
        variant("playground-refusing-state"), transport=transport, wire_format="agents"
    ) as client:
        reply = await client.achat("hi", model="qwq-32b", temperature=0.5)
        again = await client.achat("again", model="llama-3.1-8b")
    # The state was refused, so setConfig is the only way the model and temperature got there.
    fields = echo_fields(reply.text[reply.text.index("Echo from") :])
    assert (fields["model"], fields["temperature"]) == (QWQ, "0.5")
    first, second = transport.rooms  # no system prompt to move: no second room for the first
    assert received(first, "cf_agent_state_error") == [
        {"type": "cf_agent_state_error", "error": "State update rejected"}
    ]
    assert config_replies(first)[0]["success"] is True
    # The next room is not sent the state the server refuses.
    assert sent(second) == ["setConfig", "cf_agent_use_chat_request"]
    assert received(second, "cf_agent_state_error") == []
    assert echo_fields(again.text)["model"] == "@cf/meta/llama-3.1-8b-instruct-fp8"


async def test_a_refused_state_moves_the_system_prompt_into_the_history(variant):
    transport = RecordingTransport()
    history = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "u"}]
    async with PlaygroundClient(
        variant("playground-refusing-state"), transport=transport, wire_format="agents"
    ) as client:
        reply = await client.achat(history, model="qwq-32b")
        again = await client.achat(history, model="qwq-32b")
    for text in (reply.text, again.text):
        fields = echo_fields(text[text.index("Echo from") :])
        assert fields["model"] == QWQ
        assert fields["system (messages)"] == "Be brief."
        assert fields["system (state)"] == "You are a helpful assistant."  # the server's own
    # The first conversation learned it in a room of its own (whose request it then cancelled,
    # before any of its reply reached the caller); the second knew.
    assert [sent(room) for room in transport.rooms] == [
        [
            "cf_agent_state",
            "setConfig",
            "cf_agent_use_chat_request",
            "cf_agent_chat_request_cancel",
        ],
        ["setConfig", "cf_agent_use_chat_request"],
        ["setConfig", "cf_agent_use_chat_request"],
    ]


async def test_a_server_without_setconfig_chats_as_before(variant, caplog):
    transport = RecordingTransport()
    caplog.set_level(logging.INFO, logger="langchain_cloudflare_playground")
    async with PlaygroundClient(
        variant("playground-without-set-config"), transport=transport, wire_format="agents"
    ) as client:
        reply = await client.achat(
            [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "u"}],
            model="qwq-32b",
            temperature=0.5,
        )
    fields = echo_fields(reply.text[reply.text.index("Echo from") :])
    assert (fields["model"], fields["temperature"], fields["system (state)"]) == (
        QWQ,
        "0.5",
        "Be brief.",
    )
    [calls] = transport.rooms
    assert config_replies(calls) == [
        {
            "error": "Method setConfig does not exist",
            "id": "config-1",
            "success": False,
            "type": "rpc",
        }
    ]
    assert "setConfig" not in caplog.text


async def test_a_refused_setconfig_alone_is_logged_and_not_fatal(variant, caplog):
    caplog.set_level(logging.DEBUG, logger="langchain_cloudflare_playground")
    async with PlaygroundClient(
        variant("playground-refusing-set-config"), wire_format="agents"
    ) as client:
        reply = await client.achat("hi", model="qwq-32b", temperature=0.5)
        await client.achat("again", model="qwq-32b")
    fields = echo_fields(reply.text[reply.text.index("Echo from") :])
    assert (fields["model"], fields["temperature"]) == (QWQ, "0.5")  # through the state
    records = [r for r in caplog.records if "refused setConfig" in r.getMessage()]
    # A warning the first time, then quietly: the server will keep refusing.
    assert [r.levelno for r in records] == [logging.WARNING, logging.DEBUG]
    assert QWQ in records[0].getMessage()
    assert "switched off here" in records[0].getMessage()


@pytest.mark.parametrize("agent", ["playground-refusing-both", "playground-refusing-both-slowly"])
async def test_a_server_refusing_both_ways_is_an_error_naming_the_model(variant, agent):
    # "slowly": setConfig fails 2 s after the reply from the server's default model has come;
    # that reply is held back until then, and never reaches the caller.
    transport = RecordingTransport()
    async with PlaygroundClient(
        variant(agent), transport=transport, wire_format="agents"
    ) as client:
        received_text = []
        with pytest.raises(ModelSettingsRefusedError) as info:
            async for event in client.astream_chat("hi", model="qwq-32b"):
                received_text.append(event)
    assert received_text == []  # nothing from the server's default model reached the caller
    assert info.value.model == QWQ
    message = str(info.value)
    assert f"model '{QWQ}'" in message
    assert "State update rejected" in message
    assert "switched off here" in message
    assert len(transport.rooms) == 1  # not retried: another try would be refused the same way


def test_a_langchain_user_gets_an_error_of_langchain_and_of_the_client(variant):
    llm = ChatCloudflarePlayground(
        base_url=variant("playground-refusing-both"), wire_format="agents", model="qwq-32b"
    )
    with pytest.raises(ModelInvalidRequestError, match="would not use model") as info:
        llm.invoke("hi")
    assert isinstance(info.value, ModelSettingsRefusedError)
    assert info.value.model == QWQ
