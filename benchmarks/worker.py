"""Measurements that need a process of their own (peak memory, import time), run by the harness.

    python -m benchmarks.worker concurrency ours 2 http://127.0.0.1:9102 500 "[long:200]"
    python -m benchmarks.worker concurrency serve - http://127.0.0.1:8000/v1 100 "[long:200]"
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
from benchmarks.streams import (
    Reading,
    TextReading,
    read_bare_http,
    read_bare_websocket,
    read_openai_stream,
    read_with_client,
)
from langchain_cloudflare_playground.client import PlaygroundClient


async def concurrency(kind: str, wire_format: str, url: str, streams: int, prompt: str) -> dict:
    """``streams`` replies at once from one client (``ours``), one bare aiohttp session
    (``bare``), or one aiohttp session reading the OpenAI streams of ``cf-playground serve`` at
    ``url`` (``serve``; ``wire_format`` is unused)."""
    client = None
    session = None
    if kind == "ours":
        client = PlaygroundClient(url, wire_format="agents" if wire_format == "ws" else "http")
        reader = lambda: read_with_client(client, prompt)  # noqa: E731
    else:
        # aiohttp's default pool (100 connections), the size of the client's own.
        session = aiohttp.ClientSession()
        if kind == "serve":
            reader = lambda: read_openai_stream(session, url, prompt)  # noqa: E731
        elif wire_format == "ws":
            reader = lambda: read_bare_websocket(session, url, prompt)  # noqa: E731
        else:
            reader = lambda: read_bare_http(session, url, int(wire_format), prompt)  # noqa: E731
    result = await _all_at_once(reader, streams)
    if client is not None:
        await client.aclose()
    if session is not None:
        await session.close()
    return {**result, "peak_rss_kib": peak_rss_kib()}


async def _all_at_once(reader, streams: int) -> dict:
    """One read to warm up (a pooled connection, the server's code paths), then ``streams``."""
    errors: list[str] = []
    spans: list[tuple[float, float]] = []  # each stream's first text and its end, one clock

    async def one() -> Reading | None:
        try:
            reading = await reader()
        except Exception as exc:  # noqa: BLE001 (counted and reported, not raised)
            errors.append(f"{type(exc).__name__}: {exc}")
            return None
        end = time.perf_counter()
        spans.append((end - reading.total_seconds + reading.first_seconds, end))
        return reading

    await one()
    spans.clear()
    before = rss_kib()
    start = time.perf_counter()
    readings = [r for r in await asyncio.gather(*(one() for _ in range(streams))) if r]
    wall = time.perf_counter() - start
    first_end = min((end for _, end in spans), default=0.0)
    return {
        "wall_seconds": wall,
        "errors": len(errors),
        "first_errors": errors[:3],
        "chunks": sum(r.chunks for r in readings),
        "characters": sum(r.characters for r in readings if isinstance(r, TextReading)),
        # Streams whose text had begun before the first of them ended: open all at once.
        "open_at_once": sum(1 for first, _ in spans if first < first_end),
        "rss_before_kib": before,
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
