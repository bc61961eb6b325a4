"""``cf-playground serve`` under load and faults, proven from the upstream servers' side.

A client that leaves cancels its reply upstream (the reference server sees its reader go while
it stalls a minute; the Agents SDK Worker reports the reply cancelled); a connection dropped
mid-reply is resumed and the OpenAI stream never notices; the cap on conversations queues and
then refuses; SIGTERM lets a reply in flight finish, or cuts it past the grace period.
Every wait is on an event (a record, a report, a line of output), never on the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time

import httpx
import openai
import pytest

from tests.cutting_proxy import Cut, CuttingProxy
from tests.reference_server import Fault
from tests.serve_process import ServeProcess

STALL = 60.0  # seconds a stalled upstream waits: far longer than any wait on it here


def chat(content: str, *, stream: bool = False) -> dict[str, object]:
    return {
        "model": "llama-3.3-70b",
        "messages": [{"role": "user", "content": content}],
        "stream": stream,
    }


def read_until(lines, text: str) -> list[str]:
    seen = []
    for line in lines:
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"the stream ended before {text!r}: {seen}")


def test_a_client_leaving_mid_stream_cancels_the_upstream_reply(served_http, upstream):
    upstream.push(Fault(reply=["one ", "two ", "three"], stall_after=(1, STALL)))
    with (
        httpx.Client(base_url=served_http.url, timeout=30) as http,
        http.stream("POST", "/v1/chat/completions", json=chat("leave", stream=True)) as response,
    ):
        lines = response.iter_lines()  # kept: closing it would close the response
        read_until(lines, '"one "')
        record = upstream.stream(0)
        record.wait_stalling()
    # The connection is closed; the upstream reply, a minute from its next line, is let go now.
    assert record.wait_ended(STALL / 2) == "reader gone"
    assert record.lines_written == 1


def test_a_client_leaving_cancels_the_reply_in_the_agents_room(served_agents, agents_server):
    marker = f"leaving-{os.getpid()}-{time.monotonic_ns()}"
    with (
        httpx.Client(base_url=served_agents.url, timeout=30) as http,
        http.stream(
            "POST", "/v1/chat/completions", json=chat(f"[drip:40:250] {marker}", stream=True)
        ) as response,
    ):
        lines = response.iter_lines()  # kept: closing it would close the response
        read_until(lines, '"d0 "')
    room = agents_server.chat_request(marker)["room"]
    end = agents_server.stream_end(room)
    assert end["ended"] == "cancelled"
    assert end["written"] < end["total"] == 40


def test_a_client_leaving_a_whole_reply_cancels_it_too(served_http, upstream):
    upstream.push(Fault(stall_before=STALL))

    async def leave_while_waiting() -> None:
        async with httpx.AsyncClient(base_url=served_http.url, timeout=30) as http:
            waiting = asyncio.create_task(http.post("/v1/chat/completions", json=chat("whole")))
            record = await asyncio.to_thread(upstream.stream, 0)
            await asyncio.to_thread(record.wait_stalling)
            waiting.cancel()
            await asyncio.gather(waiting, return_exceptions=True)

    asyncio.run(leave_while_waiting())
    assert upstream.stream(0).wait_ended(STALL / 2) == "reader gone"


async def test_a_drop_mid_reply_is_resumed_and_the_stream_never_notices(agents_server):
    prompt = "[drip:30:40]"
    expected = "".join(f"d{i} " for i in range(30))
    plan = [Cut(match='text-delta\\"', nth=5)]
    async with CuttingProxy(agents_server.port, plan) as proxy:
        args = ("--base-url", proxy.url, "--wire-format", "agents")
        with ServeProcess(*args, env={"CF_PLAYGROUND_BROWSER": "0"}) as served:
            async with openai.AsyncOpenAI(
                base_url=served.base_url, api_key="x", max_retries=0
            ) as sdk:
                stream = await sdk.chat.completions.create(
                    **chat(prompt, stream=True), stream_options={"include_usage": True}
                )
                chunks = [chunk async for chunk in stream]
        assert proxy.cuts_made == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


async def test_past_the_cap_requests_wait_and_past_the_queue_get_a_429(upstream):
    upstream.push_for("first", Fault(stall_before=STALL))
    args = ("--base-url", upstream.url, "--wire-format", "http")
    with ServeProcess(*args, "--max-concurrency", "1", "--max-queue", "1") as served:
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
            first = asyncio.create_task(http.post("/v1/chat/completions", json=chat("first")))
            stalled = await asyncio.to_thread(upstream.stream_for, "first")
            await asyncio.to_thread(stalled.wait_stalling)
            # One place, taken; one seat in the queue: of two more, one waits, one is refused.
            others = [
                asyncio.create_task(http.post("/v1/chat/completions", json=chat(name)))
                for name in ("second", "third")
            ]
            done, waiting = await asyncio.wait(others, return_when=asyncio.FIRST_COMPLETED)
            (refused,) = [task.result() for task in done]
            assert refused.status_code == 429
            assert refused.headers["retry-after"] == "1"
            assert refused.json()["error"]["code"] == "server_busy"
            health = (await http.get("/health")).json()["conversations"]
            assert (health["in_flight"], health["waiting"]) == (1, 1)
            # The first caller gives up: its place goes to the one waiting.
            first.cancel()
            await asyncio.gather(first, return_exceptions=True)
            (queued,) = waiting
            answered = await queued
            assert answered.status_code == 200
            assert answered.json()["choices"][0]["message"]["content"].startswith("Echo: ")
    assert stalled.wait_ended(STALL / 2) == "reader gone"


@contextlib.contextmanager
def terminated_mid_stream(upstream, fault: Fault, *args: str):
    """A server streaming a reply that ``fault`` stalls after "one ", sent SIGTERM meanwhile.

    Yields the server and the rest of the stream's lines, still to be read.
    """
    upstream.push(fault)
    with (
        ServeProcess("--base-url", upstream.url, "--wire-format", "http", *args) as served,
        httpx.Client(base_url=served.url, timeout=30) as http,
        http.stream("POST", "/v1/chat/completions", json=chat("x", stream=True)) as response,
    ):
        lines = response.iter_lines()
        read_until(lines, '"one "')
        upstream.stream(0).wait_stalling()
        served.terminate()
        yield served, lines


def test_sigterm_lets_a_stream_in_flight_finish(upstream):
    # The stall is the time the stream is in flight while the server shuts down.
    fault = Fault(reply=["one ", "two ", "three"], stall_after=(1, 5.0))
    with terminated_mid_stream(upstream, fault) as (served, lines):
        served.wait_for_output("Shutting down")
        assert upstream.stream(0).outcome is None  # still stalling: the reply is in flight
        with pytest.raises(httpx.ConnectError):  # no new connections
            httpx.get(f"{served.url}/health")
        rest = [line for line in lines if line]
        assert served.wait() == 0
    assert rest[-1] == "data: [DONE]"
    text = "".join(
        json.loads(line.removeprefix("data: "))["choices"][0]["delta"].get("content", "")
        for line in rest
        if line.startswith("data: {")
    )
    assert text == "two three"
    assert upstream.stream(0).outcome == "finished"
    assert "stopped" in served.text


def test_sigterm_cuts_a_stream_past_the_grace_period(upstream):
    fault = Fault(reply=["one ", "two "], stall_after=(1, STALL))
    with terminated_mid_stream(upstream, fault, "--shutdown-grace", "1") as (served, lines):
        with pytest.raises(httpx.RemoteProtocolError):  # the server cuts it, unfinished
            list(lines)
        assert served.wait(STALL / 2) == 0
    assert upstream.stream(0).wait_ended(STALL / 2) == "reader gone"
