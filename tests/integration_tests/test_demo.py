"""``make demo`` as a newcomer meets it: never a traceback, and a local playground when offline."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.reference_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, playground: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CF_PLAYGROUND_URL"}
    if playground is not None:
        env["CF_PLAYGROUND_URL"] = playground
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_an_unreachable_playground_is_one_line_then_the_local_demo_runs():
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    demo = _run("examples/demo.py", "--live-url", dead)
    assert demo.returncode == 0, demo.stderr
    lines = demo.stdout.splitlines()
    assert lines[0].startswith(f"The playground at {dead} cannot be reached (cannot reach the")
    assert lines[1].startswith("Running the demo against the local playground at http://127.0.0.1:")
    assert "its scripted model (it echoes what it is sent), not from a real model" in lines[1]
    # Both halves ran: the LangChain chain, conversation and tool call, then the LlamaIndex query.
    for heading in ("== chain, streamed ==", "== conversation ==", "== tool call ==", "== query"):
        assert heading in demo.stdout
    assert "Traceback" not in demo.stdout + demo.stderr


def test_the_local_demo_needs_no_network_and_picks_its_own_port():
    demo = _run("examples/demo.py", "--local")
    assert demo.returncode == 0, demo.stderr
    assert demo.stdout.startswith("Running the demo against the local playground")
    assert "== query" in demo.stdout


def test_a_failure_mid_demo_is_one_line_not_a_traceback():
    dead = f"http://127.0.0.1:{free_port()}"
    for example in ("examples/langchain_chain.py", "examples/llama_index_query.py"):
        run = _run(example, playground=dead)
        assert run.returncode == 1
        assert run.stderr.strip().startswith("The demo stopped: cannot reach the playground")
        assert len(run.stderr.strip().splitlines()) == 1
        assert "Traceback" not in run.stderr


def test_the_local_playground_run_by_hand_refuses_a_busy_port_at_once():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        run = _run("-m", "tests.reference_server", "--port", str(port))
    assert time.monotonic() - started < 10
    assert run.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in run.stderr
    assert "pick another port, or 0 for a free one" in run.stderr
