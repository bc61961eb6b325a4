"""The local servers the benchmarks read from, with no artificial delay."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tests.agents_worker import AgentsServer
from tests.reference_server import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["LocalServers", "local_servers"]

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class LocalServers:
    """Where each dialect is served."""

    sse: str  # dialect 1
    data_stream: str  # dialect 2
    websocket: str  # the Agents SDK server in wrangler dev

    def http(self, dialect: int) -> str:
        """The reference server of HTTP dialect 1 or 2."""
        return self.sse if dialect == 1 else self.data_stream


@contextlib.contextmanager
def local_servers() -> Iterator[LocalServers]:
    """Both reference servers (each in its own process, so they do not share our CPU) and the
    Agents server."""
    processes = []
    urls = []
    try:
        for dialect in (1, 2):
            port = free_port()
            command = [sys.executable, "-m", "tests.reference_server", "--dialect", str(dialect)]
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
