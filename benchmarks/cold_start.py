"""One rung's first chat in a fresh process: its cold first token and its peak memory.

    python -m benchmarks.cold_start impersonate https://127.0.0.1:PORT /path/to/ca.pem 5
    python -m benchmarks.cold_start impersonate-preimported https://127.0.0.1:PORT ca.pem 5

Makes a client pinned to the rung (``direct``, ``impersonate`` or ``browser``), speaking Agents
frames to ``URL`` and trusting the CA bundle, and times its first chat from the moment the client
is made: the transport's lazy imports (curl_cffi; nodriver) and, for the browser relay, Chromium's
launch are in it. The package itself is imported before the clock starts (it loads aiohttp, the
same for every rung). ``impersonate-preimported`` imports the impersonating transport (and so
curl_cffi) before the clock too, which tells the cost of the import from that of the wire. Then
``CHATS`` more chats, and the peak resident set of this process. The harness watches the
Chromium processes this one starts (``transport_rungs.py``).

Prints one JSON object on its last line. Imports nothing of the benchmarks' but the standard
library helpers, so what is measured is the client's own.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from benchmarks.g4f_stream import peak_rss_kib

_started = time.perf_counter()
from langchain_cloudflare_playground.client import PlaygroundClient, TextDelta  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - _started
MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"  # benchmarks.streams.MODEL, not imported
PROMPT = "hi"  # a short reply


async def first_chats(rung: str, url: str, ca_path: str, chats: int) -> dict[str, object]:
    """The cold chat, then ``chats`` warm ones through the same client."""
    start = time.perf_counter()
    client = PlaygroundClient(
        url,
        wire_format="agents",
        transport=rung,
        verify=ca_path,
        session_cache=False,  # no rung remembered from an earlier run, no session carried over
        browser=rung == "browser",
        max_retries=0,  # a refusal is a failed measurement, not something to climb past
    )
    first = 0.0
    chunks = 0
    async for event in client.astream_chat(PROMPT, model=MODEL):
        if isinstance(event, TextDelta):
            if not chunks:
                first = time.perf_counter() - start
            chunks += 1
    first_chat = time.perf_counter() - start
    warm = []
    for _ in range(chats):
        began, token = time.perf_counter(), 0.0
        async for event in client.astream_chat(PROMPT, model=MODEL):
            if isinstance(event, TextDelta) and not token:
                token = time.perf_counter() - began
        warm.append(token)
    await client.aclose()
    if not chunks or not all(warm):
        msg = f"{rung}: {chunks} chunks in the first chat, warm first tokens {warm}"
        raise RuntimeError(msg)
    return {
        "rung": rung,
        "import_seconds": IMPORT_SECONDS,
        "first_token_seconds": first,
        "first_chat_seconds": first_chat,
        "warm_first_token_seconds": warm,
        "peak_rss_kib": peak_rss_kib(),
    }


def main() -> None:
    """Run the rung named on the command line and print its JSON."""
    rung, url, ca_path, chats = sys.argv[1:]
    if rung == "impersonate-preimported":
        import langchain_cloudflare_playground.client.transports.impersonating_transport  # noqa: F401, PLC0415

        rung = "impersonate"
    print(json.dumps(asyncio.run(first_chats(rung, url, ca_path, int(chats)))))


if __name__ == "__main__":
    main()
