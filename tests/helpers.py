"""Helpers that more than one test module uses, so no test module imports from another.

Fixtures stay in the ``conftest.py`` files; plain functions live here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from langchain_cloudflare_playground.client.tools import Tool

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import aiohttp

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CLI = str(Path(sys.executable).parent / "cf-playground")
PROFILE_PREFIX = "cf-playground-chromium-"  # the package's temporary Chromium profiles
# Set by tests/conftest.py to this run's own temporary folder, in every process the run starts.
RUN_MARK = "CF_PLAYGROUND_TEST_RUN"
# The tool the tool-calling tests offer most.
ADD = Tool(
    "add",
    "Add two integers.",
    {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
)


# -- what the machine must have -----------------------------------------------------------


def require_agents_server() -> None:
    """The Agents server can run here; in CI its absence fails the test, elsewhere skips."""
    from tests.agents_worker import missing_prerequisite

    problem = missing_prerequisite()
    if problem is not None:
        if IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)


def require_tool(name: str) -> str:
    """The path of a program the test needs: in CI its absence fails the test, elsewhere skips."""
    path = shutil.which(name) or (
        f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None
    )
    if path is None:
        message = f"{name} is not installed (.ci/run installs it with apt-get)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@contextmanager
def running_tinyproxy(folder: Path, *, any_port: bool = False) -> Iterator[tuple[str, Path]]:
    """A tinyproxy on loopback with its files in ``folder``: its URL, and its log file.

    The log names every URL it carried. It tunnels (``CONNECT``) to port 443 only, as a proxy
    for the web would, unless ``any_port`` (a test server's TLS port is random).
    """
    from tests.reference_server import free_port

    binary = require_tool("tinyproxy")
    port = free_port()
    log = folder / "tinyproxy.log"
    config = folder / "tinyproxy.conf"
    config.write_text(
        f"Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 20\nAllow 127.0.0.1\n"
        f'LogLevel Info\nLogFile "{log}"\nPidFile "{folder / "tinyproxy.pid"}"\n'
        + ("" if any_port else "ConnectPort 443\n")
    )
    process = subprocess.Popen(
        [binary, "-d", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 10
    while "Accepting connections" not in (log.read_text() if log.exists() else ""):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail(f"tinyproxy did not start: {log.read_text() if log.exists() else ''}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", log
    finally:
        process.terminate()
        process.wait(10)


# -- what a client holds ------------------------------------------------------------------


def client_sockets_to(port: int) -> int:
    """This process's TCP sockets whose peer is ``127.0.0.1:port``: the clients of that server.

    A count of every descriptor would also take in what the test did not make (a server in a
    thread of this process and its side of each connection, closed when it notices).
    """
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    count = 0
    with open("/proc/self/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            if int(fields[2].split(":")[1], 16) == port and fields[9] in inodes:
                count += 1
    return count


async def settled(condition: Callable[[], bool], seconds: float) -> bool:
    """Whether ``condition`` holds within ``seconds`` (closes run in the background)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


# -- running the project's programs -------------------------------------------------------


def run_cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None):
    """Run the ``cf-playground`` command as a user runs it."""
    return subprocess.run(
        [CLI, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def run_example(name: str, base_url: str, *, python_options: tuple[str, ...] = ()) -> str:
    """Run ``examples/<name>`` against the playground at ``base_url``; return what it printed."""
    example = ROOT / "examples" / name
    result = subprocess.run(
        [sys.executable, *python_options, str(example)],
        env={**os.environ, "CF_PLAYGROUND_URL": base_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# -- the Agents server --------------------------------------------------------------------


def echo_fields(text: str) -> dict[str, str]:
    """The Agents server's echo (a first line, then ``key: value`` lines) as a dict."""
    return dict(line.split(": ", 1) for line in text.splitlines()[1:])


async def request_outcome(observer: aiohttp.ClientWebSocketResponse) -> str | None:
    """How the room's chat request ended, as an observer in the same room sees it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        frame = json.loads((await observer.receive(timeout=10)).data)
        if frame.get("type") == "cf_agent_use_chat_response" and frame.get("done"):
            return frame.get("outcome")
    return None


# -- Chromium -----------------------------------------------------------------------------


def chromium_processes() -> set[int]:
    """The live Chromium processes this test run started, and no other program's.

    Chromium's programs are ``chromium`` (or ``chrome``) and its helpers such as
    ``chrome_crashpad_handler``.

    Every process the run starts inherits its mark (``RUN_MARK`` in the environment, set in
    ``tests/conftest.py``), Chromium's helpers included, so one look at each process's
    environment tells ours from those of another run or another program on the machine.
    """
    mark = f"{RUN_MARK}={os.environ.get(RUN_MARK, '')}".encode()
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            # The program itself, not its command line: Chromium's helpers rewrite theirs into
            # one string, and a path (a checkout in a folder named "...chromium...") would count
            # the run's Agents server (workerd, esbuild, python) as Chromium.
            program = os.path.basename(os.readlink(f"/proc/{entry}/exe"))
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if program.startswith("chrom") and state != "Z" and mark in environ:
            found.add(int(entry))
    return found


def our_profiles() -> list[str]:
    """The package's Chromium profiles left in this run's own temporary folder."""
    return [p for p in os.listdir(tempfile.gettempdir()) if p.startswith(PROFILE_PREFIX)]


# What the soaks saw, one entry per soak, written as one line at the end of the run.
SOAK_LINES = pytest.StashKey[list[str]]()
