"""Measurements that need a process of their own (peak memory, import time), run by the harness.

    python -m benchmarks.worker concurrency ours 2 http://127.0.0.1:9102 500 "[long:200]"
    python -m benchmarks.worker memory ours 2 http://127.0.0.1:9102 150000

Each prints one JSON object on its last line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import tracemalloc

import aiohttp

# The g4f script measures memory the same way, and imports nothing but the standard library.
from benchmarks.g4f_stream import peak_rss_kib, rss_kib
from benchmarks.streams import read_bare_http, read_bare_websocket, read_with_client
from langchain_cloudflare_playground.client import PlaygroundClient


async def concurrency(kind: str, wire_format: str, url: str, streams: int, prompt: str) -> dict:
    """``streams`` replies at once from one client (or one bare aiohttp session)."""
    errors: list[str] = []

    async def one(reader) -> int:
        try:
            return (await reader()).chunks
        except Exception as exc:  # noqa: BLE001 (counted and reported, not raised)
            errors.append(f"{type(exc).__name__}: {exc}")
            return 0

    if kind == "bare":
        session = aiohttp.ClientSession()
        if wire_format == "ws":
            reader = lambda: read_bare_websocket(session, url, prompt)  # noqa: E731
        else:
            reader = lambda: read_bare_http(session, url, int(wire_format), prompt)  # noqa: E731
        await one(reader)  # warm: a pooled connection, the server's code paths
        before = rss_kib()
        start = time.perf_counter()
        chunks = await asyncio.gather(*(one(reader) for _ in range(streams)))
        wall = time.perf_counter() - start
        await session.close()
    else:
        client = PlaygroundClient(url, wire_format="agents" if wire_format == "ws" else "http")
        reader = lambda: read_with_client(client, prompt)  # noqa: E731
        await one(reader)
        before = rss_kib()
        start = time.perf_counter()
        chunks = await asyncio.gather(*(one(reader) for _ in range(streams)))
        wall = time.perf_counter() - start
        await client.aclose()
    return {
        "wall_seconds": wall,
        "errors": len(errors),
        "first_errors": errors[:3],
        "chunks": sum(chunks),
        "rss_before_kib": before,
        "peak_rss_kib": peak_rss_kib(),
    }


async def memory(kind: str, wire_format: str, url: str, chunks: int, *, trace: bool) -> dict:
    """Stream one reply of ``chunks`` chunks, dropping the text; how much memory did it take?

    ``trace`` counts Python's allocations exactly (tracemalloc), at the cost of inflating the
    resident set; without it only the resident set is measured.
    """
    client = PlaygroundClient(url, wire_format="agents" if wire_format == "ws" else "http")
    await read_with_client(client, "warm up")
    before = rss_kib()
    if trace:
        tracemalloc.start()
    characters = 0
    async for event in client.astream_chat(f"[long:{chunks}]"):
        characters += len(getattr(event, "text", ""))
    traced_peak = tracemalloc.get_traced_memory()[1] if trace else 0
    tracemalloc.stop()
    await client.aclose()
    return {
        "kind": kind,
        "characters": characters,
        "traced_peak_bytes": traced_peak,
        "rss_before_kib": before,
        "peak_rss_kib": peak_rss_kib(),
    }


async def stream(url: str, prompt: str, repeat: int) -> dict:
    """The reply ``repeat`` times through one warm client (the g4f comparison's other side)."""
    client = PlaygroundClient(url, wire_format="http")
    await read_with_client(client, "warm up")
    before = rss_kib()
    runs = []
    for _ in range(repeat):
        cpu = time.process_time()
        reading = await read_with_client(client, prompt)
        runs.append(
            {
                "chunks": reading.chunks,
                "total_seconds": reading.total_seconds,
                "cpu_seconds": time.process_time() - cpu,
            }
        )
    await client.aclose()
    return {"runs": runs, "rss_before_kib": before, "peak_rss_kib": peak_rss_kib()}


def main() -> None:
    """Run the measurement named on the command line and print its JSON."""
    mode, *args = sys.argv[1:]
    if mode == "concurrency":
        kind, wire_format, url, streams, prompt = args
        result = asyncio.run(concurrency(kind, wire_format, url, int(streams), prompt))
    elif mode == "memory":
        kind, wire_format, url, chunks, trace = args
        result = asyncio.run(memory(kind, wire_format, url, int(chunks), trace=trace == "trace"))
    elif mode == "stream":
        url, prompt, repeat = args
        result = asyncio.run(stream(url, prompt, int(repeat)))
    else:
        msg = f"unknown mode {mode!r}"
        raise SystemExit(msg)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
