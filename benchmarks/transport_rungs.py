"""The transport rungs against direct aiohttp: cold start through a TLS gate, memory, warm first
token, throughput. Each returns :class:`Comparison` rows, ours against a baseline, same run.

The gate is ``tests.tls_edge.TlsEdge`` in front of the real Agents server: the judging edge lets
only Chrome-like handshakes through (curl_cffi impersonating Chrome, Chromium), so direct aiohttp
is measured through an edge of the same kind that judges nothing (``judging=False``): both sides
pay the same TLS termination and the same relay in the edge.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from benchmarks.pairs import alternate, throughput_rows
from benchmarks.stats import Comparison
from benchmarks.streams import read_with_client
from langchain_cloudflare_playground.client import PlaygroundClient
from tests.tls_edge import TestCertificates, TlsEdge

if TYPE_CHECKING:
    from collections.abc import Iterator

    from benchmarks.servers import LocalServers

__all__ = ["Gates", "cold_start", "rung_throughput", "tls_gates", "warm_first_token"]

ROOT = Path(__file__).resolve().parents[1]
LONG_REPLY = 20_000
# Chats after the cold one before the peak resident set is read.
MORE_CHATS = 5
# A relay worker launches Chromium; none needs more than a minute on this machine.
_WORKER_SECONDS = 300
_SAMPLE_SECONDS = 0.05


@dataclass(frozen=True)
class Gates:
    """Two TLS edges in front of the Agents server, and the CA both present."""

    judging: str  # lets Chrome-like handshakes through, refuses aiohttp
    open: str  # the same edge, judging nothing
    ca_path: str


@contextlib.contextmanager
def tls_gates(servers: LocalServers) -> Iterator[Gates]:
    """A judging and an open edge before the Agents server, certificates in a temporary folder."""
    port = urlsplit(servers.websocket).port
    if port is None:
        msg = f"the Agents server's URL has no port: {servers.websocket}"
        raise RuntimeError(msg)
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as folder:
        certificates = TestCertificates.create(folder)
        with (
            TlsEdge(port, certificates) as judging,
            TlsEdge(port, certificates, judging=False) as open_edge,
        ):
            yield Gates(judging.url, open_edge.url, str(certificates.ca_path))


def cold_start(gates: Gates, repetitions: int) -> list[Comparison]:
    """Targets 1 and 2: each rung's first chat in a fresh process, then its peak memory.

    Direct aiohttp goes through the open edge, the impersonating rung and the browser relay
    through the judging one; they run in turn, ``repetitions`` times after one untimed round.
    """
    runs: dict[str, list[dict[str, Any]]] = {
        "direct": [],
        "impersonate": [],
        "browser": [],
        "impersonate-preimported": [],
    }
    for warming in (True, *([False] * repetitions)):
        for rung, into in runs.items():
            url = gates.open if rung == "direct" else gates.judging
            run = _cold_worker(rung, url, gates.ca_path)
            if not warming:  # the first of each loads the files into the page cache
                into.append(run)
    direct, imp, relay = runs["direct"], runs["impersonate"], runs["browser"]
    preimported = runs["impersonate-preimported"]

    def first_ms(side: list[dict[str, Any]]) -> list[float]:
        return [run["first_token_seconds"] * 1000 for run in side]

    def process_ms(side: list[dict[str, Any]]) -> list[float]:
        # From the first import of the client: the direct rung's network library (aiohttp)
        # loads with the package, the impersonating rung's (curl_cffi) with its first use, so
        # this is the measure that charges each rung for its own imports.
        return [(run["import_seconds"] + run["first_token_seconds"]) * 1000 for run in side]

    def peak_mib(side: list[dict[str, Any]], *, chromium: bool = False) -> list[float]:
        return [
            (run["peak_rss_kib"] + (run["chromium_peak_rss_kib"] if chromium else 0)) / 1024
            for run in side
        ]

    imports = statistics.median(run["import_seconds"] for run in direct + imp + relay) * 1000
    chromium_mib = statistics.median(run["chromium_peak_rss_kib"] for run in relay) / 1024
    chromium_processes = max(run["chromium_processes"] for run in relay)
    leftovers = sum(run["chromium_left"] for run in direct + imp + relay)
    return [
        Comparison(
            "cold first token, impersonate (judging edge) vs direct (open edge)",
            "ms",
            process_ms(imp),
            process_ms(direct),
            target="<= 1.5x",
            max_ratio=1.5,
            note="a fresh process, from the first import of the client (each rung's own"
            f" network library included; the package with aiohttp takes {imports:.0f} ms)",
        ),
        Comparison(
            "cold first token from making the client, impersonate vs direct",
            "ms",
            first_ms(imp),
            first_ms(direct),
            note="the package (and aiohttp) imported before the clock, curl_cffi inside it",
        ),
        Comparison(
            "cold first token, impersonate with curl_cffi imported first vs direct",
            "ms",
            first_ms(preimported),
            first_ms(direct),
            note="the same, the transport's module and curl_cffi imported before the clock",
        ),
        Comparison(
            "cold first token, impersonate vs browser relay (judging edge)",
            "ms",
            first_ms(imp),
            first_ms(relay),
            target="<= 0.1x (10x faster)",
            max_ratio=0.1,
            note="the relay's includes Chromium's launch",
        ),
        Comparison(
            "cold first token, browser relay (judging edge) vs direct (open edge)",
            "ms",
            first_ms(relay),
            first_ms(direct),
        ),
        Comparison(
            "peak RSS, cold chat + 5 chats, impersonate vs direct",
            "MiB",
            peak_mib(imp),
            peak_mib(direct),
            target="<= 1.3x",
            max_ratio=1.3,
            note="the worker's VmHWM",
        ),
        Comparison(
            "peak RSS, cold chat + 5 chats, browser relay vs direct (Python process)",
            "MiB",
            peak_mib(relay),
            peak_mib(direct),
        ),
        Comparison(
            "peak RSS, browser relay with Chromium vs direct",
            "MiB",
            peak_mib(relay, chromium=True),
            peak_mib(direct),
            note=f"Chromium: {chromium_mib:.0f} MiB, the peak of the summed RSS of its"
            f" {chromium_processes} processes (shared pages counted in each)"
            + (f"; {leftovers} processes outlived their worker" if leftovers else ""),
        ),
    ]


async def warm_first_token(servers: LocalServers, repetitions: int) -> list[Comparison]:
    """Target 3 (measured): first token per chat from clients kept open, on the open servers.

    The three clients take turns, after warm-up chats each; each rung is paired with the direct
    chat of its round. The relay carries WebSockets only, so it is measured on the Agents server.
    """
    rows = []
    for wire_format, url, rungs in (
        ("websocket", servers.websocket, ("impersonate", "browser")),
        ("data-stream", servers.data_stream, ("impersonate",)),
    ):
        clients = {rung: _open_client(url, wire_format, rung) for rung in ("direct", *rungs)}
        try:
            for client in clients.values():
                for _ in range(3):
                    await read_with_client(client, "hi")
            firsts: dict[str, list[float]] = {rung: [] for rung in clients}
            for _ in range(repetitions):
                for rung, client in clients.items():
                    reading = await read_with_client(client, "hi")
                    firsts[rung].append(reading.first_seconds * 1000)
        finally:
            for client in clients.values():
                await client.aclose()
        for rung in rungs:
            extra = statistics.median(firsts[rung]) - statistics.median(firsts["direct"])
            rows.append(
                Comparison(
                    f"warm first token, {rung} vs direct, {wire_format} (open server)",
                    "ms",
                    firsts[rung],
                    firsts["direct"],
                    note=f"{extra:+.2f} ms",
                )
            )
    return rows


async def rung_throughput(servers: LocalServers, repetitions: int) -> list[Comparison]:
    """Target 4: the 20,000-chunk reply through the impersonating rung against direct aiohttp,
    over the Agents WebSocket and the data stream, on the open servers."""
    rows = []
    prompt = f"[long:{LONG_REPLY}]"
    for wire_format, url in (
        ("data-stream", servers.data_stream),
        ("websocket", servers.websocket),
    ):
        imp = _open_client(url, wire_format, "impersonate")
        direct = _open_client(url, wire_format, "direct")
        reps = max(2, repetitions // 2) if wire_format == "websocket" else repetitions
        try:
            mine, theirs = await alternate(
                reps,
                functools.partial(read_with_client, imp, prompt),
                functools.partial(read_with_client, direct, prompt),
            )
        finally:
            await imp.aclose()
            await direct.aclose()
        counts = {reading.chunks for reading, _ in mine + theirs}
        if counts != {LONG_REPLY}:
            msg = f"{wire_format}: the clients read {counts} chunks, not {LONG_REPLY}"
            raise RuntimeError(msg)
        rows += throughput_rows(
            f"impersonate vs direct, {wire_format}", mine, theirs, min_throughput=0.8
        )
    return rows


def _open_client(url: str, wire_format: str, rung: str) -> PlaygroundClient:
    return PlaygroundClient(
        url,
        wire_format="agents" if wire_format == "websocket" else "http",
        transport=rung,
        session_cache=False,
        browser=rung == "browser",
        max_retries=0,
    )


def _cold_worker(rung: str, url: str, ca_path: str) -> dict[str, Any]:
    """Run ``benchmarks.cold_start`` for one rung, sampling the RSS of the processes it starts.

    The relay's worker runs with ``$CF_PLAYGROUND_BROWSER`` unset (the harness sets it to 0);
    the others keep it, and are made with ``browser=False`` besides.
    """
    env = dict(os.environ)
    if rung == "browser":
        env.pop("CF_PLAYGROUND_BROWSER", None)
    command = [sys.executable, "-m", "benchmarks.cold_start", rung, url, ca_path, str(MORE_CHATS)]
    deadline = time.monotonic() + _WORKER_SECONDS
    peak_children = 0
    most_children = 0
    seen: set[int] = set()
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        while process.poll() is None:
            if time.monotonic() > deadline:
                process.kill()
                msg = f"benchmarks.cold_start {rung} took more than {_WORKER_SECONDS} s"
                raise RuntimeError(msg)
            children = _descendants(process.pid)
            seen.update(children)
            most_children = max(most_children, len(children))
            peak_children = max(peak_children, sum(_rss_kib(pid) for pid in children))
            time.sleep(_SAMPLE_SECONDS)
        stdout, stderr = process.communicate()
    if process.returncode:
        msg = f"benchmarks.cold_start {rung} failed:\n{stderr[-2000:]}"
        raise RuntimeError(msg)
    data: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    data["chromium_peak_rss_kib"] = peak_children
    data["chromium_processes"] = most_children
    data["chromium_left"] = sum(_alive(pid) for pid in seen)
    return data


def _descendants(root: int) -> list[int]:
    """Every process below ``root`` (Chromium's browser, zygotes, renderers, utilities)."""
    found: list[int] = []
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children: list[int] = []
        with contextlib.suppress(OSError, ValueError):
            for task in Path(f"/proc/{parent}/task").iterdir():
                children.extend(int(pid) for pid in (task / "children").read_text().split())
        found.extend(children)
        frontier.extend(children)
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (not gone, not a zombie awaiting its parent)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _rss_kib(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
