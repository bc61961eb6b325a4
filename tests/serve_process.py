"""``cf-playground serve`` as a user runs it: a subprocess on a free loopback port.

The process prints one line once it listens (``listening on http://HOST:PORT``); ``start()``
waits for that line, never for a while. ``stop()`` sends SIGTERM, waits for the exit, and kills
it if it is still there: no process outlives the test that started it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from typing import Self

from tests.helpers import CLI

_LISTENING = re.compile(r"listening on (http://\S+?:\d+)")


class ServeProcess:
    """``cf-playground serve --port 0 ARGS...`` in a process of its own."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        """Prepare the command; ``start()`` runs it."""
        self.args = ["serve", "--port", "0", *args]
        self.env = {**os.environ, **(env or {})}
        self.url = ""  # http://127.0.0.1:PORT once started
        self.output: list[str] = []  # standard output and error, line by line
        self.process: subprocess.Popen[str] | None = None
        self._listening = threading.Event()
        self._more_output = threading.Condition()
        self._reader: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (``.../v1``)."""
        return f"{self.url}/v1"

    def start(self, deadline: float = 60.0) -> Self:
        """Start the server and wait for its listening line."""
        self.process = subprocess.Popen(
            [CLI, *self.args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._listening.wait(deadline) or not self.url:
            self.stop()
            msg = f"cf-playground serve did not listen within {deadline:g} s:\n{self.text}"
            raise RuntimeError(msg)
        return self

    def _read(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._more_output:
                self.output.append(line)
                self._more_output.notify_all()
            match = _LISTENING.search(line)
            if match and not self.url:
                self.url = match.group(1)
                self._listening.set()
        self._listening.set()  # the process ended

    def wait_for_output(self, text: str, seconds: float = 30.0) -> None:
        """Return once the process has written ``text``; fails after ``seconds``."""
        with self._more_output:
            if not self._more_output.wait_for(lambda: text in self.text, seconds):
                msg = f"cf-playground serve did not write {text!r} within {seconds:g} s"
                raise AssertionError(msg)

    @property
    def text(self) -> str:
        """Everything the process wrote so far."""
        return "".join(self.output)

    def terminate(self) -> None:
        """Send SIGTERM (the graceful stop)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait(self, seconds: float = 30.0) -> int:
        """The exit code, once the process has ended (its output read to the end)."""
        assert self.process is not None
        code = self.process.wait(seconds)
        if self._reader is not None:
            self._reader.join(seconds)
        return code

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers; returns once the process is gone."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if self._reader is not None:
            self._reader.join(10)
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> Self:
        """Start on entering ``with``."""
        return self.start()

    def __exit__(self, *_: object) -> None:
        """Stop on leaving ``with``."""
        self.stop()
