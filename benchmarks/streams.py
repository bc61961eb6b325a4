"""One reply read several ways: by bare aiohttp (the transport's limit), by the client, by g4f,
and through ``cf-playground serve``.

The bare readers do what any careful reader must and nothing more: send the request, split each
read of the response into lines with one ``bytes.split`` (HTTP) or take frames (WebSocket), and
count the ones that carry text. They are the baseline every ratio in this folder is measured
against. aiohttp's own line iterator (``async for line in response.content``) costs about as
much per line as the whole client; it is kept as a second, labelled reader, never the baseline.

``serve``'s OpenAI stream is read as barely (``read_openai_stream``), except that each event's
JSON is parsed: the least any OpenAI client does, and what tells how much text a chunk carries.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.client import PlaygroundClient, TextDelta
from langchain_cloudflare_playground.client.messages import normalize_messages
from langchain_cloudflare_playground.client.wire_formats import ChatRequest
from langchain_cloudflare_playground.client.wire_formats.agents_frames import (
    RoomSettings,
    agent_url,
    chat_frame,
    new_room,
    room_state,
    state_frame,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import aiohttp

    from langchain_cloudflare_playground.client import ChatEvent

__all__ = [
    "MODEL",
    "Reading",
    "TextReading",
    "read_bare_http",
    "read_bare_websocket",
    "read_minimal_typed_http",
    "read_openai_stream",
    "read_readline_http",
    "read_text_with_client",
    "read_with_client",
]

MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
# The text-carrying lines of each HTTP wire_format, as the bare reader recognises them.
_TEXT_LINE = {1: b"data: {", 2: b"0:"}
# What stands around the text in such a line, as the reference server writes it.
_AROUND_TEXT = {1: ('data: {"response": "', '"}'), 2: ('0:"', '"')}


@dataclass(frozen=True)
class Reading:
    """What one read of a reply took: text chunks, time to the first, time to the end."""

    chunks: int
    first_seconds: float
    total_seconds: float


@dataclass(frozen=True)
class TextReading(Reading):
    """A reading that also measured the text: where two readers' chunks differ in size
    (``serve`` sends what one read of the playground brought as one chunk), text is the
    measure they share."""

    characters: int
    first_characters: int  # in the first chunk that carried text

    @property
    def text_rate(self) -> float:
        """Characters per second from the first chunk of text to the end of the reply."""
        later = self.characters - self.first_characters
        return later / (self.total_seconds - self.first_seconds)


def http_body(prompt: str) -> dict[str, object]:
    """The request both HTTP wire formats accept (the reference server reads either shape)."""
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": 2048,
        "stream": True,
    }


async def read_bare_http(
    session: aiohttp.ClientSession, url: str, wire_format: int, prompt: str
) -> Reading:
    """POST, split each read into lines with one ``split``, count the lines that carry text."""
    marker = _TEXT_LINE[wire_format]
    chunks = 0
    first = 0.0
    start = time.perf_counter()
    async with session.post(f"{url}/api/inference", json=http_body(prompt)) as response:
        response.raise_for_status()
        tail = b""
        async for data in response.content.iter_any():
            lines = (tail + data).split(b"\n")
            tail = lines.pop()  # the unfinished last line waits for the next read
            for line in lines:
                if line.startswith(marker):
                    if not chunks:
                        first = time.perf_counter() - start
                    chunks += 1
        if tail.startswith(marker):
            chunks += 1
    return Reading(chunks, first, time.perf_counter() - start)


async def read_readline_http(
    session: aiohttp.ClientSession, url: str, wire_format: int, prompt: str
) -> Reading:
    """The same with aiohttp's line iterator: a second reader for comparison, not the floor."""
    marker = _TEXT_LINE[wire_format]
    chunks = 0
    first = 0.0
    start = time.perf_counter()
    async with session.post(f"{url}/api/inference", json=http_body(prompt)) as response:
        response.raise_for_status()
        async for line in response.content:
            if line.startswith(marker):
                if not chunks:
                    first = time.perf_counter() - start
                chunks += 1
    return Reading(chunks, first, time.perf_counter() - start)


async def read_minimal_typed_http(
    session: aiohttp.ClientSession, url: str, wire_format: int, prompt: str
) -> Reading:
    """The bare reader plus what a client that hands out typed events one at a time must add.

    It decodes each read to text, makes one :class:`TextDelta` per text line and hands each
    over from an async generator, and does nothing else a correct client must (no JSON, no
    escapes, no split characters or CRLF, no errors, no end of reply, no retries). A reference
    for what reading one event per chunk costs, not a client: its runs vary as the client's do.
    """
    return await _text_events_read(
        time.perf_counter(), _minimal_typed_events(session, url, wire_format, prompt)
    )


async def _minimal_typed_events(
    session: aiohttp.ClientSession, url: str, wire_format: int, prompt: str
) -> AsyncIterator[TextDelta]:
    before, after = _AROUND_TEXT[wire_format]
    text = slice(len(before), -len(after))
    async with session.post(f"{url}/api/inference", json=http_body(prompt)) as response:
        response.raise_for_status()
        tail = ""
        async for data in response.content.iter_any():
            lines = (tail + data.decode()).split("\n")
            tail = lines.pop()
            for line in lines:
                # (the stop event carries no text, and the usage event other keys)
                if line.startswith(before) and line.endswith(after) and (piece := line[text]):
                    yield TextDelta(piece)


async def read_bare_websocket(session: aiohttp.ClientSession, url: str, prompt: str) -> Reading:
    """Open a room, send the chat, take frames until the one marked done.

    The two request frames are built with the client's own encoders: building a request is not
    what is measured, reading the reply is.
    """
    request = ChatRequest(
        conversation=normalize_messages(prompt), model=MODEL, max_tokens=2048, temperature=None
    )
    chunks = 0
    first = 0.0
    start = time.perf_counter()
    async with session.ws_connect(agent_url(url, new_room())) as socket:
        state: dict[str, object] = {}
        while True:  # the server greets with identity, state and MCP frames; wait for the state
            frame = json.loads((await socket.receive()).data)
            if frame.get("type") == "cf_agent_state":
                state = frame["state"]
                break
        await socket.send_str(state_frame(room_state(state, RoomSettings.of(request))))
        await socket.send_str(chat_frame(request.conversation))
        async for message in socket:
            data = message.data
            if "text-delta" in data:  # inside the frame's body, itself JSON text
                if not chunks:
                    first = time.perf_counter() - start
                chunks += 1
            if '"done":true' in data:
                break
    return Reading(chunks, first, time.perf_counter() - start)


async def read_with_client(client: PlaygroundClient, prompt: str) -> Reading:
    """The same reply through the client: typed events, retries, the lot."""
    return await _text_events_read(time.perf_counter(), client.astream_chat(prompt, model=MODEL))


async def _text_events_read(start: float, events: AsyncIterator[ChatEvent]) -> Reading:
    """Count the text events of a reply whose request began at ``start``."""
    chunks = 0
    first = 0.0
    async for event in events:
        if isinstance(event, TextDelta):
            if not chunks:
                first = time.perf_counter() - start
            chunks += 1
    return Reading(chunks, first, time.perf_counter() - start)


async def read_text_with_client(client: PlaygroundClient, prompt: str) -> TextReading:
    """The reply through the client, its text counted (the other side of
    :func:`read_openai_stream`)."""
    chunks = characters = first_characters = 0
    first = 0.0
    start = time.perf_counter()
    async for event in client.astream_chat(prompt, model=MODEL):
        if isinstance(event, TextDelta):
            if not chunks:
                first = time.perf_counter() - start
                first_characters = len(event.text)
            chunks += 1
            characters += len(event.text)
    return TextReading(chunks, first, time.perf_counter() - start, characters, first_characters)


async def read_openai_stream(
    session: aiohttp.ClientSession, base_url: str, prompt: str
) -> TextReading:
    """A streamed chat completion from an OpenAI-compatible server (``base_url`` ends in /v1).

    What any careful reader of OpenAI's stream must do and nothing more: split each read into
    lines with one ``bytes.split``, parse each event's JSON and take the text of its delta,
    until ``data: [DONE]``. An error event, or a stream that ends without ``[DONE]``, raises.
    """
    chunks = characters = first_characters = 0
    first = 0.0
    done = False
    start = time.perf_counter()
    async with session.post(f"{base_url}/chat/completions", json=http_body(prompt)) as response:
        response.raise_for_status()
        tail = b""
        async for data in response.content.iter_any():
            lines = (tail + data).split(b"\n")
            tail = lines.pop()
            for line in lines:
                if not line.startswith(b"data: "):
                    continue  # the blank line after each event
                if line == b"data: [DONE]":
                    done = True
                    continue
                event = json.loads(line[len(b"data: ") :])
                if "error" in event:
                    msg = f"the stream carried an error: {event['error']}"
                    raise RuntimeError(msg)
                for choice in event["choices"]:
                    if text := choice["delta"].get("content"):
                        if not chunks:
                            first = time.perf_counter() - start
                            first_characters = len(text)
                        chunks += 1
                        characters += len(text)
    if not done:
        msg = "the stream ended without data: [DONE]"
        raise RuntimeError(msg)
    return TextReading(chunks, first, time.perf_counter() - start, characters, first_characters)
