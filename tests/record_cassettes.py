"""Re-record the committed cassettes in ``tests/cassettes/``.

Against the local servers (the default): starts the reference server for both HTTP wire formats
and the Agents SDK server for the Agents frames on the ports the cassettes name, and re-runs the
cassette tests in ``rewrite`` mode::

    .venv/bin/python -m tests.record_cassettes

Against a real playground (the live site speaks the Agents frames over a WebSocket; a self-hosted
copy of the 2024-2025 playground speaks the HTTP wire formats). The tests' expected text then
needs updating, since only the local servers echo (``make cassettes-live`` runs this)::

    .venv/bin/python -m tests.record_cassettes --live \\
        --base-url https://playground.ai.cloudflare.com -k websocket
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytest

from tests.agents_worker import AgentsServer
from tests.reference_server import ReferenceServer

TESTS = "tests/integration_tests/test_cassettes.py"
STANDARD = "tests/integration_tests/test_standard.py::TestChatCloudflarePlaygroundCassettes"
STANDARD_CASSETTES = Path(__file__).parent / "cassettes" / "standard"


def main() -> int:
    """Record, and return pytest's exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--live", action="store_true", help="record against $CF_PLAYGROUND_URL, not local servers"
    )
    parser.add_argument(
        "--base-url",
        default=os.environ.get("CF_PLAYGROUND_URL"),
        help="with --live: the playground to record from (default: $CF_PLAYGROUND_URL)",
    )
    parser.add_argument("-k", help="only the cassette tests matching this pytest expression")
    args = parser.parse_args()
    if args.live:
        if not args.base_url:
            parser.error("--live needs --base-url (or $CF_PLAYGROUND_URL)")
        # Read by the cassette tests ($CF_PLAYGROUND_URL itself is unset for every test).
        os.environ["CF_PLAYGROUND_RECORD_URL"] = args.base_url
    selection = "committed" + (f" and ({args.k})" if args.k else "")
    pytest_args = [TESTS, "-k", selection, "--record-mode=rewrite", "-p", "no:cacheprovider", "-q"]
    if args.live:
        return int(pytest.main(pytest_args))
    with (
        ReferenceServer("sse", port=8786),
        ReferenceServer("data-stream", port=8787),
        AgentsServer(port=8788),
    ):
        status = int(pytest.main(pytest_args))
        if args.k is None:  # LangChain's standard suite, over the data stream
            # Its settings fix record_mode="once", which never rewrites a cassette: start empty.
            for old in STANDARD_CASSETTES.glob("*.yaml"):
                old.unlink()
            status |= int(
                pytest.main([STANDARD, "--record-mode=rewrite", "-p", "no:cacheprovider", "-q"])
            )
        return status


if __name__ == "__main__":
    sys.exit(main())
