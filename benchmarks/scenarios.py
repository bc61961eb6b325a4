"""The comparisons. Each returns :class:`Comparison` rows: ours against a baseline, same run."""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from benchmarks.pairs import alternate, in_turn, rate, throughput_rows
from benchmarks.stats import Comparison
from benchmarks.streams import (
    MODEL,
    Reading,
    read_bare_http,
    read_bare_websocket,
    read_minimal_typed_http,
    read_readline_http,
    read_with_client,
)
from langchain_cloudflare_playground.client import PlaygroundClient

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from benchmarks.servers import LocalServers

ROOT = Path(__file__).resolve().parents[1]
LONG_REPLY = 20_000
# An HTTP read of the long reply takes some 20 ms, so a turn is short and one turn disturbed by
# anything else on the machine moves its pair's ratio by half or more: the HTTP readers run
# this many times the turns asked for (each format's turns take a few seconds in all).
HTTP_TURNS_PER_REPETITION = 3
IMPORT_INTERPRETERS_PER_REPETITION = 2  # see import_times
WIRE_FORMATS = ("sse", "data-stream", "websocket")


def _url(servers: LocalServers, wire_format: str) -> str:
    return {"sse": servers.sse, "data-stream": servers.data_stream}.get(
        wire_format, servers.websocket
    )


def _client(servers: LocalServers, wire_format: str) -> PlaygroundClient:
    kind = "agents" if wire_format == "websocket" else "http"
    return PlaygroundClient(_url(servers, wire_format), wire_format=kind)


def _bare(session: aiohttp.ClientSession, servers: LocalServers, wire_format: str, prompt: str):
    if wire_format == "websocket":
        return read_bare_websocket(session, servers.websocket, prompt)
    return read_bare_http(
        session, _url(servers, wire_format), 1 if wire_format == "sse" else 2, prompt
    )


async def throughput_and_cpu(servers: LocalServers, repetitions: int) -> list[Comparison]:
    """Scenario 1: a 20,000-chunk reply, chunks per second, against bare aiohttp."""
    rows = []
    prompt = f"[long:{LONG_REPLY}]"
    async with aiohttp.ClientSession() as session:
        for wire_format in WIRE_FORMATS:
            client = _client(servers, wire_format)
            http = wire_format != "websocket"
            reps = repetitions * HTTP_TURNS_PER_REPETITION if http else max(2, repetitions // 2)
            code = 1 if wire_format == "sse" else 2
            readers = [
                lambda c=client: read_with_client(c, prompt),
                lambda d=wire_format: _bare(session, servers, d, prompt),
            ]
            if http:  # the minimal typed-event reader, in the same turns as the client and bare
                readers.append(
                    lambda d=wire_format, k=code: read_minimal_typed_http(
                        session, _url(servers, d), k, prompt
                    )
                )
            mine, theirs, *minimal = await in_turn(reps, *readers)
            _check_chunks(wire_format, mine, LONG_REPLY)
            # HTTP against the bare reader is a reference row: the target is the client against
            # the minimal typed-event reader below, which hands out one event per chunk as the
            # client's API does (issue 25).
            rows += throughput_rows(
                wire_format,
                mine,
                theirs,
                min_throughput=None if http else 0.5,
                max_cpu=None if http else 1.5,
            )
            if http:
                (typed,) = minimal
                _check_chunks(wire_format, typed, LONG_REPLY)
                rows += throughput_rows(
                    f"{wire_format}, a minimal typed-event reader",
                    typed,
                    theirs,
                    note="against the same bare readings as the client's row",
                )
                rows.append(
                    Comparison(
                        f"throughput, {wire_format}, client vs a minimal typed-event reader",
                        "chunks/s",
                        [rate(r) for r, _ in mine],
                        [rate(r) for r, _ in typed],
                        target=">= 0.85x",
                        min_ratio=0.85,
                        note="each pair from the same turn",
                    )
                )
                # aiohttp's own line iterator, for readers who compare with it: not the floor.
                mine, readline = await alternate(
                    reps,
                    lambda c=client: read_with_client(c, prompt),
                    lambda d=wire_format, k=code: read_readline_http(
                        session, _url(servers, d), k, prompt
                    ),
                )
                rows.append(
                    Comparison(
                        f"throughput, {wire_format}, vs aiohttp's line iterator",
                        "chunks/s",
                        [rate(r) for r, _ in mine],
                        [rate(r) for r, _ in readline],
                    )
                )
            await client.aclose()
    return rows


async def time_to_first_token(servers: LocalServers, repetitions: int) -> list[Comparison]:
    """Scenario 2: a short reply on a warm connection; the first text chunk, against bare."""
    rows = []
    async with aiohttp.ClientSession() as session:
        for wire_format in WIRE_FORMATS:
            client = _client(servers, wire_format)
            mine, theirs = await alternate(
                repetitions,
                lambda c=client: read_with_client(c, "hi"),
                lambda d=wire_format: _bare(session, servers, d, "hi"),
            )
            await client.aclose()
            ours_ms = [r.first_seconds * 1000 for r, _ in mine]
            bare_ms = [r.first_seconds * 1000 for r, _ in theirs]
            overhead = statistics.median(o - b for o, b in zip(ours_ms, bare_ms, strict=True))
            rows.append(
                Comparison(
                    f"time to first token, {wire_format}",
                    "ms",
                    ours_ms,
                    bare_ms,
                    target="<= +2 ms (median)",
                    condition=overhead <= 2.0,
                    note=f"{overhead:+.2f} ms",
                )
            )
    return rows


def concurrency(servers: LocalServers, repetitions: int) -> list[Comparison]:
    """Scenario 3: 500 HTTP streams, 200 WebSocket conversations at once, each side in its own
    process (so peak memory is its own)."""
    rows = []
    cases = [("sse", "1", 500, "[long:200]"), ("data-stream", "2", 500, "[long:200]")]
    cases.append(("websocket", "ws", 200, "[long:20]"))
    for wire_format, code, streams, prompt in cases:
        url = _url(servers, wire_format)
        mine, theirs = [], []
        for _ in range(repetitions):
            for kind, into in (("ours", mine), ("bare", theirs)):
                into.append(run_worker("concurrency", kind, code, url, str(streams), prompt))
        rows.append(wall_time_row(f"{streams} at once, {wire_format}: wall time", mine, theirs))
        rows.append(
            Comparison(
                f"{streams} at once, {wire_format}: peak RSS",
                "MiB",
                [r["peak_rss_kib"] / 1024 for r in mine],
                [r["peak_rss_kib"] / 1024 for r in theirs],
            )
        )
    return rows


def wall_time_row(
    name: str, mine: list[dict[str, Any]], theirs: list[dict[str, Any]]
) -> Comparison:
    """Streams at once, from the concurrency workers' results: <= 1.5x, no error on either side."""
    errors = sum(r["errors"] for r in mine + theirs)
    first = next((r["first_errors"] for r in mine + theirs if r["errors"]), [])
    return Comparison(
        name,
        "s",
        [r["wall_seconds"] for r in mine],
        [r["wall_seconds"] for r in theirs],
        target="<= 1.5x, 0 errors",
        max_ratio=1.5,
        condition=errors == 0,
        note=f"errors: {errors}" + (f" ({first[0]})" if first else ""),
    )


def memory(servers: LocalServers) -> list[Comparison]:
    """Scenario 7: memory while streaming ~1 and ~2 million characters, text dropped as it comes.

    What grows from one to the other is what the reply itself costs the client; the client keeps
    the text once (a failed stream reports what arrived), so the target is one byte per character.
    """
    rows = []
    for wire_format, code in (("sse", "1"), ("data-stream", "2")):
        url = _url(servers, wire_format)
        small = run_worker("memory", "ours", code, url, "150000", "trace")
        large = run_worker("memory", "ours", code, url, "300000", "trace")
        small_rss = run_worker("memory", "ours", code, url, "150000", "rss")
        large_rss = run_worker("memory", "ours", code, url, "300000", "rss")
        grown_chars = large["characters"] - small["characters"]
        rows.append(
            Comparison(
                f"memory per extra reply character, {wire_format}",
                "bytes/char",
                [(large["traced_peak_bytes"] - small["traced_peak_bytes"]) / grown_chars],
                [1.0],
                target="<= 1.25 (the text itself, 1 byte/char)",
                max_ratio=1.25,
                note=f"{small['characters']:,} -> {large['characters']:,} characters; peak RSS"
                f" {small_rss['peak_rss_kib'] / 1024:.1f} -> {large_rss['peak_rss_kib'] / 1024:.1f}"
                " MiB",
            )
        )
    return rows


def import_times(repetitions: int) -> list[Comparison]:
    """Scenario 6: import time in a fresh interpreter, against what it sits on.

    Each fresh interpreter imports the baseline, then ours on top of it, and times both: what
    ours adds is timed by itself, not as the difference of two imports in two interpreters.
    The baseline takes 0.2 to 1 s here and moves by a hundred ms or more from one interpreter to
    the next when anything else runs on the machine, which buried the tens of ms measured.
    The overhead is the median over the interpreters, after an untimed one.
    """
    pairs = [
        (
            "import and make a client (over aiohttp)",
            (
                "from langchain_cloudflare_playground.client import PlaygroundClient;"
                " PlaygroundClient()"
            ),
            "import aiohttp",
            "<= +100 ms",
            0.100,
        ),
        (
            "import the LangChain adapter (over langchain_core)",
            "from langchain_cloudflare_playground import ChatCloudflarePlayground",
            "from langchain_core.language_models import BaseChatModel",
            "<= +50 ms",
            0.050,
        ),
        (
            "import the LlamaIndex adapter (over llama_index.core)",
            "from llama_index_cloudflare_playground import CloudflarePlayground",
            "from llama_index.core.llms import CustomLLM",
            "<= +50 ms",
            0.050,
        ),
    ]
    rows = []
    for name, ours, base, target, allowed in pairs:
        _import_seconds(base, ours)  # the files into the page cache, bytecode written if stale
        timings = [
            _import_seconds(base, ours)
            for _ in range(repetitions * IMPORT_INTERPRETERS_PER_REPETITION)
        ]
        extra = statistics.median(added for _, added in timings)
        rows.append(
            Comparison(
                name,
                "ms",
                [(alone + added) * 1000 for alone, added in timings],
                [alone * 1000 for alone, _ in timings],
                target=target,
                condition=extra <= allowed,
                note=f"{extra * 1000:+.1f} ms (ours on top of it, in the same interpreter)",
            )
        )
    return rows


def nodriver_stays_out(servers: LocalServers) -> dict[str, Any]:
    """No call imports nodriver unless a browser is needed: a chat and a model list, then look."""
    code = (
        "import sys\n"
        "from langchain_cloudflare_playground.client import PlaygroundClient\n"
        f"with PlaygroundClient({servers.data_stream!r}) as c:\n"
        "    c.chat('hi'); c.list_models()\n"
        f"with PlaygroundClient({servers.websocket!r}) as c:\n"
        "    c.chat('hi'); c.list_models()\n"
        "print('nodriver' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    imported = result.stdout.strip().splitlines()[-1] == "True"
    return {"name": "nodriver imported by a chat and a model list", "imported": imported}


def _import_seconds(base: str, ours: str) -> tuple[float, float]:
    """In a fresh interpreter: the seconds ``base`` takes, then ``ours`` on top of it."""
    code = (
        f"import time; start = time.perf_counter(); {base}; based = time.perf_counter(); {ours};"
        " print(based - start, time.perf_counter() - based)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    alone, added = result.stdout.strip().splitlines()[-1].split()
    return float(alone), float(added)


# No worker needs more than a minute on this machine: one stuck for longer has hung.
_WORKER_SECONDS = 300


def run_worker(*args: str) -> dict[str, Any]:
    """``python -m benchmarks.worker ARGS...`` in a process of its own; the JSON it printed."""
    try:
        result = subprocess.run(
            [sys.executable, "-m", "benchmarks.worker", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=_WORKER_SECONDS,
        )
    except subprocess.TimeoutExpired:
        msg = f"benchmarks.worker {' '.join(args)} took more than {_WORKER_SECONDS} s"
        raise RuntimeError(msg) from None
    if result.returncode:
        msg = f"benchmarks.worker {' '.join(args)} failed:\n{result.stderr[-2000:]}"
        raise RuntimeError(msg)
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def _check_chunks(wire_format: str, readings: list[tuple[Reading, float]], expected: int) -> None:
    counts = {reading.chunks for reading, _ in readings}
    if counts != {expected}:
        msg = f"{wire_format}: the client read {counts} chunks, not {expected}"
        raise RuntimeError(msg)


def run(coroutine: Awaitable[Any]) -> Any:
    """Run one async scenario on a fresh loop."""
    return asyncio.run(coroutine)  # type: ignore[arg-type]


__all__ = [
    "MODEL",
    "concurrency",
    "import_times",
    "memory",
    "nodriver_stays_out",
    "run",
    "run_worker",
    "sync_twins",
    "throughput_and_cpu",
    "time_to_first_token",
    "wall_time_row",
]


async def adapters(servers: LocalServers, repetitions: int) -> list[Comparison]:
    """Scenario 4: each adapter streaming a 20,000-chunk reply, against its framework's floor.

    The floors stream the same number of chunks from memory, with no network at all: LangChain's
    own ``GenericFakeChatModel``, and for LlamaIndex a ``CustomLLM`` written the way its docs
    show (cumulative text, one response per token). Ratios are of the time per chunk.
    """
    from langchain_core.language_models import GenericFakeChatModel  # noqa: PLC0415
    from langchain_core.messages import AIMessage  # noqa: PLC0415
    from llama_index.core.base.llms.types import ChatMessage  # noqa: PLC0415

    from langchain_cloudflare_playground import ChatCloudflarePlayground  # noqa: PLC0415
    from llama_index_cloudflare_playground import CloudflarePlayground  # noqa: PLC0415

    prompt = f"[long:{LONG_REPLY}]"
    # GenericFakeChatModel streams words and the spaces between them as separate chunks.
    fake_text = " ".join(f"t{i}" for i in range(LONG_REPLY // 2 + 1))
    fake = GenericFakeChatModel(messages=_repeat(AIMessage(content=fake_text)))
    chat_model = ChatCloudflarePlayground(base_url=servers.data_stream, wire_format="http")
    llm = CloudflarePlayground(base_url=servers.data_stream, wire_format="http")
    floor_llm = _llama_index_floor(LONG_REPLY)
    messages = [ChatMessage(role="user", content=prompt)]

    async def langchain_stream(model: Any, text: str) -> tuple[int, float]:
        start = time.perf_counter()
        chunks = 0
        async for _ in model.astream(text):
            chunks += 1
        return chunks, time.perf_counter() - start

    async def llama_index_stream(model: Any) -> tuple[int, float]:
        start = time.perf_counter()
        chunks = 0
        async for _ in await model.astream_chat(messages):
            chunks += 1
        return chunks, time.perf_counter() - start

    rows = []
    for name, ours, floor in (
        (
            "LangChain .astream() vs GenericFakeChatModel",
            lambda: langchain_stream(chat_model, prompt),
            lambda: langchain_stream(fake, "x"),
        ),
        (
            "LlamaIndex astream_chat vs an in-memory CustomLLM",
            lambda: llama_index_stream(llm),
            lambda: llama_index_stream(floor_llm),
        ),
    ):
        await ours()
        await floor()
        mine, theirs = [], []
        for _ in range(repetitions):
            mine.append(await ours())
            theirs.append(await floor())
        rows.append(
            Comparison(
                name,
                "us/chunk",
                [seconds / chunks * 1e6 for chunks, seconds in mine],
                [seconds / chunks * 1e6 for chunks, seconds in theirs],
                target="<= 1.3x",
                max_ratio=1.3,
                note=f"{mine[0][0]:,} vs {theirs[0][0]:,} chunks",
            )
        )
    await chat_model.client.aclose()
    return rows


def _repeat(message: Any) -> Any:
    while True:
        yield message


def _llama_index_floor(tokens: int) -> Any:
    from llama_index.core.base.llms.types import (  # noqa: PLC0415
        CompletionResponse,
        LLMMetadata,
    )
    from llama_index.core.llms.callbacks import llm_completion_callback  # noqa: PLC0415
    from llama_index.core.llms.custom import CustomLLM  # noqa: PLC0415

    class FloorLLM(CustomLLM):
        """LlamaIndex's documented custom LLM, streaming ``tokens`` tokens from memory."""

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(is_chat_model=False)

        @llm_completion_callback()
        def complete(self, prompt: str, **kwargs: Any) -> CompletionResponse:  # noqa: ARG002
            return CompletionResponse(text="".join(f"t{i} " for i in range(tokens)))

        @llm_completion_callback()
        def stream_complete(self, prompt: str, **kwargs: Any) -> Any:  # noqa: ARG002
            text = ""
            for i in range(tokens):
                token = f"t{i} "
                text += token
                yield CompletionResponse(text=text, delta=token)

    return FloorLLM()


def against_g4f(servers: LocalServers, repetitions: int) -> list[Comparison]:
    """Scenario 5: the gpt4free ``Cloudflare`` provider of the wire_format-2 era (g4f 6.6.0), in a
    virtual environment of its own, streaming the same reply from the same server."""
    from benchmarks.g4f_env import ensure_g4f_venv  # noqa: PLC0415

    g4f_python = ensure_g4f_venv(ROOT / "benchmarks")
    prompt = f"[long:{LONG_REPLY}]"
    g4f = subprocess.run(
        [
            str(g4f_python),
            "-I",  # isolated: this folder's modules stay off its path
            str(ROOT / "benchmarks" / "g4f_stream.py"),
            servers.data_stream,
            prompt,
            "--repeat",
            str(repetitions),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if g4f.returncode:
        msg = f"the g4f provider failed:\n{g4f.stderr[-2000:]}"
        raise RuntimeError(msg)
    theirs = json.loads(g4f.stdout.strip().splitlines()[-1])
    mine = run_worker("stream", servers.data_stream, prompt, str(repetitions))
    for side, data in (("ours", mine), ("g4f", theirs)):
        counts = {run["chunks"] for run in data["runs"]}
        if counts != {LONG_REPLY}:
            msg = f"{side} read {counts} chunks, not {LONG_REPLY}"
            raise RuntimeError(msg)
    return [
        Comparison(
            "throughput vs the g4f Cloudflare provider (data stream)",
            "chunks/s",
            [run["chunks"] / run["total_seconds"] for run in mine["runs"]],
            [run["chunks"] / run["total_seconds"] for run in theirs["runs"]],
            target="> 1x (faster)",
            min_ratio=1.0,
        ),
        Comparison(
            "CPU per chunk vs the g4f Cloudflare provider",
            "us",
            [run["cpu_seconds"] / run["chunks"] * 1e6 for run in mine["runs"]],
            [run["cpu_seconds"] / run["chunks"] * 1e6 for run in theirs["runs"]],
            note="process time per chunk, in each process",
        ),
        Comparison(
            "peak RSS vs the g4f Cloudflare provider",
            "MiB",
            [mine["peak_rss_kib"] / 1024],
            [theirs["peak_rss_kib"] / 1024],
            target="< 1x (lower)",
            max_ratio=1.0,
            note="each in a process of its own, after the same warm-up and runs",
        ),
    ]


def sync_twins(servers: LocalServers, repetitions: int) -> list[Comparison]:
    """Each synchronous twin against its async twin: time per event, 20,000-chunk reply.

    The async side runs on one loop kept between runs (``asyncio.Runner``), the sync side from
    this thread, so each keeps its warm connection; the two alternate after a warm-up each.
    """
    from llama_index.core.base.llms.types import ChatMessage  # noqa: PLC0415

    from langchain_cloudflare_playground import ChatCloudflarePlayground  # noqa: PLC0415
    from llama_index_cloudflare_playground import CloudflarePlayground  # noqa: PLC0415

    prompt = f"[long:{LONG_REPLY}]"
    url = servers.data_stream
    client = PlaygroundClient(url, wire_format="http")
    chat_model = ChatCloudflarePlayground(base_url=url, wire_format="http")
    llm = CloudflarePlayground(base_url=url, wire_format="http")
    messages = [ChatMessage(role="user", content=prompt)]

    def timed_sync(iterate: Callable[[], Any]) -> Callable[[], tuple[int, float]]:
        def run() -> tuple[int, float]:
            start = time.perf_counter()
            count = sum(1 for _ in iterate())
            return count, time.perf_counter() - start

        return run

    def timed_async(aiterate: Callable[[], Awaitable[Any]]) -> Callable[[], tuple[int, float]]:
        async def count() -> tuple[int, float]:
            start = time.perf_counter()
            total = 0
            async for _ in await aiterate():
                total += 1
            return total, time.perf_counter() - start

        return lambda: runner.run(count())

    async def identity(value: Any) -> Any:
        return value

    rows = []
    with asyncio.Runner() as runner:
        cases = (
            (
                "client stream_chat vs astream_chat",
                timed_sync(lambda: client.stream_chat(prompt)),
                timed_async(lambda: identity(client.astream_chat(prompt))),
            ),
            (
                "LangChain .stream() vs .astream()",
                timed_sync(lambda: chat_model.stream(prompt)),
                timed_async(lambda: identity(chat_model.astream(prompt))),
            ),
            (
                "LlamaIndex stream_chat vs astream_chat",
                timed_sync(lambda: llm.stream_chat(messages)),
                timed_async(lambda: llm.astream_chat(messages)),
            ),
        )
        for name, sync_run, async_run in cases:
            sync_run()
            async_run()
            mine, theirs = [], []
            for _ in range(repetitions):
                mine.append(sync_run())
                theirs.append(async_run())
            rows.append(
                Comparison(
                    name,
                    "us/event",
                    [seconds / count * 1e6 for count, seconds in mine],
                    [seconds / count * 1e6 for count, seconds in theirs],
                    target="<= 1.5x",
                    max_ratio=1.5,
                    note=f"{mine[0][0]:,} vs {theirs[0][0]:,} events",
                )
            )
        runner.run(client.aclose())
        runner.run(chat_model.client.aclose())
        runner.run(llm.client.aclose())
    client.close()
    return rows
