"""What ``make demo`` runs: a LangChain chain, then a LlamaIndex query engine, on the playground.

    python examples/demo.py            # the live playground ($CF_PLAYGROUND_URL if set)
    python examples/demo.py --local    # the local playground that ships with the tests

When the live playground cannot be reached (no internet, or its edge refuses this machine), one
line says so and the same demo runs against the local playground, whose replies come from a
scripted model that echoes what it is sent: they show the plumbing, not a real model's answers.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from langchain_cloudflare_playground.client import (
    DEFAULT_BASE_URL,
    PlaygroundClient,
    PlaygroundError,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ("langchain_chain.py", "llama_index_query.py")


def main() -> int:
    """Run the demo; the exit status is the examples' (0 when both ran)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--local", action="store_true", help="use the local playground")
    parser.add_argument("--live-url", help="the live playground (default: the public site)")
    args = parser.parse_args()

    url = None if args.local else (os.environ.get("CF_PLAYGROUND_URL") or args.live_url)
    if not args.local:
        url = url or DEFAULT_BASE_URL
        problem = _unreachable(url)
        if problem is None:
            return _run_examples(url)
        print(f"The playground at {url} cannot be reached ({problem}).", flush=True)
    return _run_locally()


def _unreachable(url: str) -> str | None:
    """Why one short chat with ``url`` fails, or ``None`` when it works."""
    with PlaygroundClient(url, timeout=20, max_retries=0) as client:
        try:
            client.chat("Say hello in one word.", max_tokens=8)
        except PlaygroundError as exc:
            return str(exc).splitlines()[0]
    return None


def _run_locally() -> int:
    sys.path.insert(0, str(ROOT))  # the local playground lives with the tests
    from tests.reference_server import ReferenceServer  # noqa: PLC0415 (only when needed)

    # The local playground has a new port every run: what the client learns about it (the
    # transport that worked) is of no use later, so it goes to a session cache of the demo's
    # own, never to the user's.
    with (
        ReferenceServer("data-stream", port=0) as server,
        tempfile.TemporaryDirectory(prefix="cf-playground-demo-") as cache_dir,
    ):
        print(
            f"Running the demo against the local playground at {server.url}: the replies below"
            " come from its scripted model (it echoes what it is sent), not from a real model.",
            flush=True,
        )
        return _run_examples(server.url, {"CF_PLAYGROUND_CACHE_DIR": cache_dir})


def _run_examples(url: str, environment: dict[str, str] | None = None) -> int:
    env = {**os.environ, **(environment or {}), "CF_PLAYGROUND_URL": url}
    for name in EXAMPLES:
        example = str(Path(__file__).parent / name)
        done = subprocess.run([sys.executable, example], env=env, check=False)  # noqa: S603
        if done.returncode != 0:
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
