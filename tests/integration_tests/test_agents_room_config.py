"""A room runs with the settings the call asked for, or the call says so; the way is learned once.

Against the real Agents SDK server (tests/agents_server) and its variants, reached at
``/variant/<agent>/agents/playground/<room>``, each taking settings its own way:

- ``playground``: takes the client's state, and ``setConfig`` with a system prompt;
- ``playground-refusing-state``: refuses the state with an error; ``setConfig`` takes everything;
- ``playground-reverting-state``: takes the state and quietly puts its own values back (a
  broadcast, no error); ``setConfig`` takes everything;
- ``playground-ignoring-system``: as the reverting one, and ``setConfig`` ignores a system
  prompt (the live site as captured in 2026);
- ``playground-refusing-both``: neither way takes anything.

What each room ran with is the scripted model's own report (the echo: model, temperature, the
system prompt in the room's state and among the messages). What the client sent is the room's own
record of the frames it got (``<room>/client-frames``). Every client here has a session cache of
its own, so each test starts with nothing learned.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from dataclasses import dataclass

import pytest
from langchain_core.exceptions import ModelInvalidRequestError

from langchain_cloudflare_playground import ChatCloudflarePlayground
from langchain_cloudflare_playground.client import (
    ModelSettingsRefusedError,
    PlaygroundClient,
    SessionCache,
    TextDelta,
)
from langchain_cloudflare_playground.client.drivers import agents_driver
from tests.helpers import echo_fields, run_cli

QWQ = "@cf/qwen/qwq-32b"
ROOM_MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"  # every fresh room's own
DEFAULT_SYSTEM = "You are a helpful assistant."  # the Worker's own, in every room's state

LEARNING = ["cf_agent_state", "rpc settingsProbe", "rpc setConfig", "cf_agent_use_chat_request"]


@dataclass(frozen=True)
class Server:
    """A variant, and what a client that learned its way sends and gets."""

    agent: str
    straight: list[str]  # the frames of a conversation that knows the way
    system_state: str  # the echo's "system (state)" for a chat with -s "Be terse."
    system_messages: str  # its "system (messages)"


SERVERS = [
    Server("playground", ["cf_agent_state", "cf_agent_use_chat_request"], "Be terse.", "(none)"),
    Server(
        "playground-refusing-state",
        ["rpc setConfig", "cf_agent_use_chat_request"],
        "Be terse.",
        "(none)",
    ),
    Server(
        "playground-reverting-state",
        ["rpc setConfig", "cf_agent_use_chat_request"],
        "Be terse.",
        "(none)",
    ),
    Server(
        "playground-ignoring-system",
        ["rpc setConfig", "cf_agent_use_chat_request"],
        DEFAULT_SYSTEM,
        "Be terse.",
    ),
]


@pytest.fixture
def variant(agents_server):
    def url(agent: str) -> str:
        return f"{agents_server.url}/variant/{agent}"

    return url


@pytest.fixture
def cache(tmp_path) -> SessionCache:
    return SessionCache(tmp_path / "session.json")


def client_frames(agents_server, agent: str, text: str) -> list[str]:
    """The frames the room that was asked ``text`` got from its client, as the room recorded."""
    return room_frames(agents_server, agent, agents_server.chat_request(text)["room"])


def room_frames(agents_server, agent: str, room: str) -> list[str]:
    """The frames ``room`` got from its client, as the room recorded them."""
    url = f"{agents_server.url}/variant/{agent}/agents/playground/{room}/client-frames"
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (loopback)
        frames = json.load(response)
    return [f"{f['type']} {f['method']}" if "method" in f else f["type"] for f in frames]


def echo_of(text: str) -> dict[str, str]:
    return echo_fields(text[text.index("Echo from") :])


def ran_with(echo: dict[str, str]) -> tuple[str, str, str, str]:
    return (
        echo["model"],
        echo["temperature"],
        echo["system (state)"],
        echo["system (messages)"],
    )


@pytest.mark.parametrize("server", SERVERS, ids=[s.agent for s in SERVERS])
async def test_each_server_runs_the_room_as_asked_and_a_second_process_goes_straight(
    server, agents_server, variant, cache
):
    history = [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": f"first to {server.agent}"},
    ]
    async with PlaygroundClient(
        variant(server.agent), session_cache=cache, wire_format="agents"
    ) as client:
        reply = await client.achat(history, model="qwq-32b", temperature=0.5)
    assert ran_with(echo_of(reply.text)) == (
        QWQ,
        "0.5",
        server.system_state,
        server.system_messages,
    )
    # The first conversation learned: every way at once, then the chat request.
    assert client_frames(agents_server, server.agent, f"first to {server.agent}") == LEARNING

    # Another process, the same session cache: straight to the way learned, nothing waited for.
    prompt = f"second to {server.agent}"
    result = run_cli(
        "chat",
        prompt,
        "--base-url",
        variant(server.agent),
        "--wire-format",
        "agents",
        "-m",
        "qwq-32b",
        "--temperature",
        "0.5",
        "-s",
        "Be terse.",
        env={"CF_PLAYGROUND_CACHE_DIR": str(cache.path.parent)},
    )
    assert result.returncode == 0, result.stderr
    assert ran_with(echo_of(result.stdout)) == (
        QWQ,
        "0.5",
        server.system_state,
        server.system_messages,
    )
    assert client_frames(agents_server, server.agent, prompt) == server.straight


async def test_the_quietly_reverting_server_never_replies_under_its_own_system_prompt(
    agents_server, variant, cache
):
    # The chat the issue saw exit 0 under the server's default: now it carries the prompt, in
    # the history, once, or fails naming it.
    result = run_cli(
        "chat",
        "terse please",
        "--base-url",
        variant("playground-ignoring-system"),
        "--wire-format",
        "agents",
        "-s",
        "Be terse.",
        env={"CF_PLAYGROUND_CACHE_DIR": str(cache.path.parent)},
    )
    assert result.returncode == 0, result.stderr
    echo = echo_of(result.stdout)
    assert echo["system (messages)"] == "Be terse."
    assert echo["system (state)"] == DEFAULT_SYSTEM  # the site's own, which it keeps


async def test_a_server_taking_no_settings_is_an_error_naming_them_before_any_chat(
    agents_server, variant, cache, monkeypatch
):
    room = f"neither-{uuid.uuid4().hex}"
    monkeypatch.setattr(agents_driver, "new_room", lambda: room)
    received = []
    async with PlaygroundClient(
        variant("playground-refusing-both"), session_cache=cache, wire_format="agents"
    ) as client:
        with pytest.raises(ModelSettingsRefusedError) as info:
            async for event in client.astream_chat(
                [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "x"}],
                model="qwq-32b",
                temperature=0.5,
            ):
                received.append(event)
    assert received == []
    error = info.value
    assert error.settings == ("model", "temperature")
    assert error.room["model"] == "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
    message = str(error)
    assert f"would not use model '{QWQ}' and temperature 0.5" in message
    assert "State update rejected" in message
    assert "switched off here" in message
    # Nothing reached the model: the room got every way of configuring it (setConfig once more
    # without the system prompt), and never the chat request.
    assert room_frames(agents_server, "playground-refusing-both", room) == [
        "cf_agent_state",
        "rpc settingsProbe",
        "rpc setConfig",
        "rpc setConfig",
    ]
    assert cache.load_settings_way(variant("playground-refusing-both")) is None


def test_the_command_line_exits_1_naming_the_setting(variant, cache):
    result = run_cli(
        "chat",
        "x",
        "--base-url",
        variant("playground-refusing-both"),
        "--wire-format",
        "agents",
        "-m",
        "qwq-32b",
        env={"CF_PLAYGROUND_CACHE_DIR": str(cache.path.parent)},
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"would not use model '{QWQ}'" in result.stderr


async def test_a_server_taking_no_settings_still_gets_the_system_prompt_in_the_history(
    variant, cache
):
    # The model asked for is the one the room runs anyway: only the system prompt needs a way.
    async with PlaygroundClient(
        variant("playground-refusing-both"), session_cache=cache, wire_format="agents"
    ) as client:
        reply = await client.achat(
            [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "x"}]
        )
    echo = echo_of(reply.text)
    assert (echo["system (state)"], echo["system (messages)"]) == (DEFAULT_SYSTEM, "Be terse.")


async def test_a_way_that_stops_working_is_learned_again(agents_server, variant, cache):
    # A way remembered from another site's behaviour (the state frame), which this server
    # quietly reverts: the reply that started under the wrong settings is dropped, unseen, and
    # the conversation runs again the way that works, which is remembered instead.
    url = variant("playground-ignoring-system")
    cache.save_settings_way(url, _state_way())
    events = []
    async with PlaygroundClient(url, session_cache=cache, wire_format="agents") as client:
        async for event in client.astream_chat("relearn", model="qwq-32b", temperature=0.5):
            events.append(event)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text.count("Echo from") == 1  # the dropped reply's text never reached the caller
    assert ran_with(echo_of(text))[:2] == (QWQ, "0.5")
    learned = cache.load_settings_way(url)
    assert learned is not None
    assert learned.model == ("setConfig",)


def _state_way():
    from langchain_cloudflare_playground.client.wire_formats.agents_frames import (
        SettingsWay,
    )

    return SettingsWay(("state",), "state")


async def test_a_slow_setconfig_reply_delays_nothing_once_the_way_is_known(
    agents_server, variant, cache
):
    # The server applies setConfig at once and answers it 2 s later. Learning waits for that
    # answer once; then the state frame is known to take, and no setConfig is sent to wait for.
    url = variant("playground-slow-set-config")
    async with PlaygroundClient(url, session_cache=cache, wire_format="agents") as client:
        await client.achat("learn slowly", model="qwq-32b", temperature=0.5)
        reply = await client.achat("then quickly", model="qwq-32b", temperature=0.5)
    assert ran_with(echo_of(reply.text))[:2] == (QWQ, "0.5")
    agent = "playground-slow-set-config"
    assert client_frames(agents_server, agent, "learn slowly") == [*LEARNING[:3], LEARNING[3]]
    assert client_frames(agents_server, agent, "then quickly") == [
        "cf_agent_state",
        "cf_agent_use_chat_request",
    ]


async def test_settings_the_room_already_has_are_not_called_for_again(
    agents_server, variant, cache
):
    # Asking for the room's own model shows nothing of which carrier takes it, so both are kept;
    # but a later conversation asking for what a fresh room already runs with calls no
    # setConfig (it would cost the room a call before every chat), and one asking for another
    # model still gets both.
    url = variant("playground-reverting-state")
    agent = "playground-reverting-state"
    async with PlaygroundClient(url, session_cache=cache, wire_format="agents") as client:
        await client.achat("learn with its own model", model=ROOM_MODEL)
        same = await client.achat("its own model again", model=ROOM_MODEL)
        other = await client.achat("another model", model="qwq-32b", temperature=0.5)
    assert [remembered.way.model for remembered in cache.settings_ways().values()] == [
        ("state", "setConfig")
    ]
    assert client_frames(agents_server, agent, "its own model again") == [
        "cf_agent_state",
        "cf_agent_use_chat_request",
    ]
    assert ran_with(echo_of(same.text))[0] == ROOM_MODEL
    assert client_frames(agents_server, agent, "another model") == [
        "cf_agent_state",
        "rpc setConfig",
        "cf_agent_use_chat_request",
    ]
    assert ran_with(echo_of(other.text))[:2] == (QWQ, "0.5")


def test_a_langchain_user_gets_an_error_of_langchain_and_of_the_client(variant, cache):
    llm = ChatCloudflarePlayground(
        base_url=variant("playground-refusing-both"),
        wire_format="agents",
        model="qwq-32b",
        session_cache=cache,
    )
    with pytest.raises(ModelInvalidRequestError, match="would not use model") as info:
        llm.invoke("hi")
    assert isinstance(info.value, ModelSettingsRefusedError)
    assert info.value.model == QWQ
