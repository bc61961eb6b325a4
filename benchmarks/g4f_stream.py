"""Stream one reply through gpt4free's Cloudflare provider, pointed at a local server, and time it.

Run by the python of the g4f virtual environment (``benchmarks/g4f_env.py``), never by ours: it
imports nothing but the standard library and g4f.

    .g4f-venv/bin/python -I benchmarks/g4f_stream.py http://127.0.0.1:9202 "[long:20000]"
    .g4f-venv/bin/python -I benchmarks/g4f_stream.py http://127.0.0.1:9202 "[long:20000]" --repeat 3

It warms the provider up with one short request, then streams PROMPT and prints one JSON line:
``{"chunks", "characters", "first_seconds", "total_seconds", "rss_before_kib", "peak_rss_kib"}``,
or with ``--repeat N`` ``{"runs": [N such objects], "peak_rss_kib": ...}``. The provider keeps its
cache file (``auth_Cloudflare.json``) in a temporary directory, removed on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODEL = "llama-3.3-70b"
WARM_UP_PROMPT = "Say hi."


def rss_kib() -> int:
    """The resident set size now."""
    with Path("/proc/self/statm").open() as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def peak_rss_kib() -> int:
    """The highest resident set size of this program (``VmHWM``).

    Not ``getrusage``'s ``ru_maxrss``: Linux carries that across ``execve``, so a process started
    by a bigger one reports its parent's peak.
    """
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    msg = "no VmHWM in /proc/self/status"
    raise RuntimeError(msg)


async def stream_once(provider: Any, prompt: str) -> dict[str, Any]:
    """One reply through ``provider``, counting its text chunks (not Usage or FinishReason)."""
    rss_before = rss_kib()
    chunks = characters = 0
    first = None
    started = time.perf_counter()
    cpu = time.process_time()
    async for chunk in provider.create_async_generator(
        model=MODEL, messages=[{"role": "user", "content": prompt}]
    ):
        if isinstance(chunk, str):
            if first is None:
                first = time.perf_counter() - started
            chunks += 1
            characters += len(chunk)
    total = time.perf_counter() - started
    cpu = time.process_time() - cpu
    return {
        "cpu_seconds": round(cpu, 6),
        "chunks": chunks,
        "characters": characters,
        "first_seconds": round(first if first is not None else total, 6),
        "total_seconds": round(total, 6),
        "rss_before_kib": rss_before,
        "peak_rss_kib": peak_rss_kib(),
    }


async def run(base_url: str, prompt: str, repeat: int | None, cookies_dir: str) -> dict[str, Any]:
    """Point the provider at ``base_url``, warm it up, then time ``repeat`` replies (or one)."""
    from g4f.cookies import set_cookies_dir  # noqa: PLC0415 (after sys.path is cleaned)
    from g4f.Provider import Cloudflare  # noqa: PLC0415

    set_cookies_dir(cookies_dir)
    base = base_url.rstrip("/")
    Cloudflare.url = base
    Cloudflare.api_endpoint = f"{base}/api/inference"
    Cloudflare.models_url = f"{base}/api/models"

    warm = await stream_once(Cloudflare, WARM_UP_PROMPT)
    if warm["chunks"] == 0:
        msg = f"the warm-up request to {Cloudflare.api_endpoint} returned no text"
        raise RuntimeError(msg)
    if repeat is None:
        return await stream_once(Cloudflare, prompt)
    runs = [await stream_once(Cloudflare, prompt) for _ in range(repeat)]
    return {"runs": runs, "peak_rss_kib": peak_rss_kib()}


def main() -> None:
    # Run as a file, the script's own folder (benchmarks/, with our modules) comes first on
    # sys.path; drop it so that only the standard library and the g4f environment are importable.
    here = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != here]

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", help="the server, e.g. http://127.0.0.1:9202")
    parser.add_argument("prompt", help='the user message, e.g. "[long:20000]"')
    parser.add_argument("--repeat", type=int, default=None, help="timed runs in this process")
    args = parser.parse_args()
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")

    with tempfile.TemporaryDirectory(prefix="g4f-cookies-") as cookies_dir:
        result = asyncio.run(run(args.base_url, args.prompt, args.repeat, cookies_dir))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
