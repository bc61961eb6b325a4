"""Golden frames: the live site's frame sequences as public captures show them, served as written.

A WebSocket server on loopback plays the site: it sends the captured frames, byte for byte but for
the chat request's id, which the site echoes from the client. Where each sequence comes from:

- ``IDENTITY``, ``STATE``, ``REPLY`` (reasoning, then text, then ``finish`` with
  ``messageMetadata``, then a bare ``done`` frame): OmniRoute 3.8.50's Cloudflare playground
  provider tests, "REAL frames captured from the playground (2026-08-15)"
  (``tests/unit/cloudflare-playground-provider.test.ts``). Their key order (``id``, ``type``,
  ``body``), no ``done:false`` on chunk frames, and a ``done`` frame without a body are kept: the
  client's fast path for the SDK's own order must not be the only way it reads a reply.
- ``RATE_LIMITED``: the same tests, "Real rate-limit error frame (kimi-k2.6, captured live)":
  an ``error`` frame whose body is ``{"message", "details"}`` JSON with the ``3021`` code.
- ``MODEL_LIST``: OmniRoute's catalog fixture of 2026-09-30
  (``tests/fixtures/cloudflare-playground-catalog.json``): the ``getModels`` answer, rows of
  ``{id, name, task: {name}, properties: [{property_id, value}]}``; two of its 26 rows here.

What no capture shows (how the live server answers ``setConfig`` and other calls) is answered as
the Agents SDK answers (``docs/wire-formats.md``): ``setConfig`` sets the state and broadcasts it,
an unknown method gets ``Method ... does not exist``, a state frame is taken in silence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from aiohttp import WSMsgType, web

from langchain_cloudflare_playground import ChatCloudflarePlayground
from langchain_cloudflare_playground.client import (
    Finish,
    PlaygroundClient,
    RateLimitError,
    ReasoningDelta,
    SessionCache,
    TextDelta,
)

IDENTITY = (
    '{"name":"playground-8d57d26b34b144108fd1f49d2","agent":"playground",'
    '"type":"cf_agent_identity"}'
)
STATE = (
    '{"state":{"model":"@cf/zai-org/glm-4.7-flash","temperature":1,"stream":true,'
    '"system":"You are a helpful assistant."},"type":"cf_agent_state"}'
)
_CHUNK = '{"id":"{id}","type":"cf_agent_use_chat_response","body":BODY}'
REPLY_BODIES = [
    '{"type":"start"}',
    '{"type":"start-step"}',
    '{"type":"reasoning-start","id":"r1"}',
    '{"type":"reasoning-delta","delta":"thinking about it...","id":"r1"}',
    '{"type":"reasoning-end","id":"r1"}',
    '{"type":"text-start","id":"t1"}',
    '{"type":"text-delta","delta":"Hello ","id":"t1"}',
    '{"type":"text-delta","delta":"world!","id":"t1"}',
    '{"type":"finish-step"}',
    '{"type":"finish","messageMetadata":{"finishReason":"stop"}}',
]
# Frame templates: "{id}" stands for the chat request's id.
REPLY = [
    *(_CHUNK.replace("BODY", json.dumps(body)) for body in REPLY_BODIES),
    '{"id":"{id}","type":"cf_agent_use_chat_response","done":true}',
]
RATE_LIMITED = [
    (
        '{"error":true,"body":"{\\"message\\":\\"The model is currently rate limited. Please'
        ' wait a moment and try again.\\",\\"details\\":\\"3021: rate limiting: inference'
        ' request per min rate reached\\"}","done":false,"id":"{id}",'
        '"type":"cf_agent_use_chat_response"}'
    )
]
MODEL_ROWS = [
    {
        "id": "00000000-0000-4000-8000-000000000001",
        "name": "@cf/zai-org/glm-4.7-flash",
        "task": {"name": "Text Generation"},
        "properties": [{"property_id": "function_calling", "value": "true"}],
    },
    {
        "id": "00000000-0000-4000-8000-000000000002",
        "name": "@cf/google/gemma-4-26b-a4b-it",
        "task": {"name": "Text Generation"},
        "properties": [
            {"property_id": "function_calling", "value": "true"},
            {"property_id": "vision", "value": "true"},
        ],
    },
]


@dataclass
class GoldenPlayground:
    """Plays the captured site: ``reply`` is the frame templates sent for a chat request."""

    reply: list[str]
    received: list[dict] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        state = json.loads(STATE)["state"]
        await ws.send_str(IDENTITY)  # identity first, as captured
        await ws.send_str(STATE)
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            frame = json.loads(message.data)
            self.received.append(frame)
            kind = frame.get("type")
            if kind == "cf_agent_state":
                state = frame["state"]  # taken in silence, as the SDK does
            elif kind == "rpc":
                await self._answer(ws, frame, state)
            elif kind == "cf_agent_use_chat_request":
                for template in self.reply:
                    await ws.send_str(template.replace("{id}", frame["id"]))
        return ws

    async def _answer(self, ws: web.WebSocketResponse, call: dict, state: dict) -> None:
        method, rpc_id = call.get("method"), call.get("id")
        if method == "setConfig":
            state.update(call["args"][0])
            await ws.send_str(json.dumps({"state": state, "type": "cf_agent_state"}))
            await ws.send_json({"done": True, "id": rpc_id, "success": True, "type": "rpc"})
        elif method == "getModels":
            answer = {"type": "rpc", "id": rpc_id, "success": True, "done": True}
            await ws.send_json({**answer, "result": MODEL_ROWS})
        else:
            error = f"Method {method} does not exist"
            await ws.send_json({"error": error, "id": rpc_id, "success": False, "type": "rpc"})


@pytest.fixture
async def golden(request):
    site = GoldenPlayground(getattr(request, "param", REPLY))
    app = web.Application()
    app.router.add_get("/agents/playground/{room}", site.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # the port it was given
    site.url = f"http://127.0.0.1:{port}"
    yield site
    await runner.cleanup()


def _client(golden, tmp_path, **options) -> PlaygroundClient:
    return PlaygroundClient(
        golden.url,
        wire_format="agents",
        session_cache=SessionCache(tmp_path / "session.json"),
        **options,
    )


def test_the_templates_are_the_captured_frames():
    done = json.loads(REPLY[-1].replace("{id}", "c"))
    assert done == {"id": "c", "type": "cf_agent_use_chat_response", "done": True}
    rate = json.loads(RATE_LIMITED[0].replace("{id}", "c"))
    assert rate["error"] is True
    assert json.loads(rate["body"])["details"].startswith("3021: ")


async def test_a_reply_as_captured_reads_reasoning_then_text_then_its_finish(golden, tmp_path):
    async with _client(golden, tmp_path) as client:
        events = [event async for event in client.astream_chat("hi", model="glm-4.7-flash")]
    assert events == [
        ReasoningDelta("thinking about it..."),
        TextDelta("Hello "),
        TextDelta("world!"),
        Finish("stop", None, "@cf/zai-org/glm-4.7-flash"),
    ]
    # The state frame was laid over the captured state (identity first was passed over).
    [state] = [f["state"] for f in golden.received if f["type"] == "cf_agent_state"]
    assert state == {
        "model": "@cf/zai-org/glm-4.7-flash",
        "temperature": 1,
        "stream": True,
        "system": "You are a helpful assistant.",
    }


async def test_settings_the_captured_site_takes_by_setconfig_are_verified(golden, tmp_path):
    async with _client(golden, tmp_path) as client:
        reply = await client.achat(
            [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}],
            model="llama-3.3-70b",
            temperature=0.2,
        )
    assert reply.text == "Hello world!"
    assert reply.finish_reason == "stop"
    configs = [f["args"][0] for f in golden.received if f.get("method") == "setConfig"]
    assert configs[0]["model"] == "@cf/meta/llama-3.3-70b-instruct-fp8-fast"


@pytest.mark.parametrize("golden", [RATE_LIMITED], indirect=True)
async def test_the_3021_frame_is_a_rate_limit_with_the_sites_words(golden, tmp_path):
    events = []
    async with _client(golden, tmp_path, max_retries=0) as client:
        with pytest.raises(RateLimitError) as info:
            async for event in client.astream_chat("hi", model="glm-4.7-flash"):
                events.append(event)
    assert events == []
    assert str(info.value).startswith(
        "The model is currently rate limited. Please wait a moment and try again."
        " 3021: rate limiting: inference request per min rate reached"
    )


async def test_the_model_list_as_captured(golden, tmp_path):
    async with _client(golden, tmp_path) as client:
        models = await client.alist_models()
    by_id = {m.id: m for m in models}
    assert set(by_id) == {"@cf/zai-org/glm-4.7-flash", "@cf/google/gemma-4-26b-a4b-it"}
    gemma = by_id["@cf/google/gemma-4-26b-a4b-it"]
    assert gemma.task == "Text Generation"
    assert dict(gemma.properties) == {"function_calling": "true", "vision": "true"}
    assert (gemma.vision, gemma.function_calling, gemma.paid_only) == (True, True, False)
    assert not by_id["@cf/zai-org/glm-4.7-flash"].vision


async def test_langchain_reads_the_captured_reply(golden, tmp_path):
    llm = ChatCloudflarePlayground(
        base_url=golden.url,
        wire_format="agents",
        model="glm-4.7-flash",
        session_cache=SessionCache(tmp_path / "session.json"),
    )
    message = await llm.ainvoke("hi")
    assert message.content == [
        {"type": "reasoning", "reasoning": "thinking about it...", "index": 0},
        "Hello world!",
    ]
    assert message.text == "Hello world!"
    assert message.response_metadata["finish_reason"] == "stop"
