"""The same chat, the same expectations, for all three wire formats the playground has spoken."""

from __future__ import annotations

import re

from langchain_cloudflare_playground.client import Finish, PlaygroundClient, TextDelta

HISTORY = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello"},
    {"role": "user", "content": "Name a colour"},
]


async def test_the_same_chat_in_every_wire_format(each_wire_format):
    async with PlaygroundClient(each_wire_format.url) as client:  # "auto" finds the wire format
        events = [e async for e in client.astream_chat(HISTORY, model="llama-3.1-8b")]
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    text = "".join(texts)
    assert len(texts) > 5  # streamed, not delivered whole
    assert events[-1] == Finish(
        events[-1].reason, events[-1].usage, "@cf/meta/llama-3.1-8b-instruct-fp8"
    )
    assert events[-1].reason == "stop"
    # Each server's scripted model echoes what reached it; the wording differs, the facts not.
    assert "@cf/meta/llama-3.1-8b-instruct-fp8" in text
    assert "Be brief." in text
    assert "Name a colour" in text
    assert re.search(r"(turns=|messages: )3\b", text)
