"""Re-record the committed cassettes in ``tests/cassettes/``.

Against the reference server (the default): starts it on the ports the cassettes name, for both
HTTP dialects, and re-runs the cassette tests in ``rewrite`` mode::

    .venv/bin/python -m tests.record_cassettes

Against another server that speaks the HTTP dialects (a self-hosted copy of the 2024-2025
playground, say); the tests' expected text then needs updating, since only the reference server
echoes::

    CF_PLAYGROUND_URL=https://my-playground.example \\
        .venv/bin/python -m tests.record_cassettes --live
"""

from __future__ import annotations

import argparse
import sys

import pytest

from tests.reference_server import ReferenceServer

TESTS = "tests/integration_tests/test_cassettes.py"


def main() -> int:
    """Record, and return pytest's exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--live",
        action="store_true",
        help="record against $CF_PLAYGROUND_URL, not the reference server",
    )
    args = parser.parse_args()
    pytest_args = [
        TESTS,
        "-k",
        "committed",
        "--record-mode=rewrite",
        "-p",
        "no:cacheprovider",
        "-q",
    ]
    if args.live:
        return int(pytest.main(pytest_args))
    with ReferenceServer(1, port=8786), ReferenceServer(2, port=8787):
        return int(pytest.main(pytest_args))


if __name__ == "__main__":
    sys.exit(main())
