"""The local servers the benchmarks read from, with no artificial delay."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tests.agents_worker import AgentsServer
from tests.reference_server import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["LocalServers", "local_servers"]

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class LocalServers:
    """Where each wire format is served."""

    sse: str  # server-sent events
    data_stream: str  # the AI SDK data stream
    websocket: str  # Agents frames: the Agents SDK server in wrangler dev

    def http(self, wire_format: Literal["sse", "data-stream"]) -> str:
        """The reference server of one HTTP wire format."""
        return self.sse if wire_format == "sse" else self.data_stream


@contextlib.contextmanager
def local_servers() -> Iterator[LocalServers]:
    """Both reference servers (each in its own process, so they do not share our CPU) and the
    Agents server."""
    processes = []
    urls = []
    try:
        for wire_format in ("sse", "data-stream"):
            port = free_port()
            command = [sys.executable, "-m", "tests.reference_server", "--wire-format", wire_format]
            processes.append(
                subprocess.Popen(
                    [*command, "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL
                )
            )
            _wait_for(port)
            urls.append(f"http://127.0.0.1:{port}")
        with AgentsServer() as agents:
            yield LocalServers(urls[0], urls[1], agents.url)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def _wait_for(port: int, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    msg = f"the reference server did not listen on port {port} within {seconds} s"
    raise RuntimeError(msg)
