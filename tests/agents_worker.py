"""The real Cloudflare Agents SDK server (``tests/agents_server/``) in local ``wrangler dev``.

The Worker runs the SDK's ``AIChatAgent`` with a scripted model in place of Workers AI; the last
user message picks the script (see ``tests/agents_server/README.md``). The script comes from
``tests/scripted_model.py``, served on loopback by a Python process of its own that starts and
stops with the Worker, so the reference server and this one share one scripted model. Needs
Node 20 and ``npm ci`` in ``tests/agents_server`` (``make test`` and ``.ci/run`` do it).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parents[1]
SERVER_DIR = Path(__file__).parent / "agents_server"
# How many chat models the Worker lists: the Text Generation rows of `ROWS` in src/index.ts.
CHAT_MODEL_COUNT = 30
WRANGLER = SERVER_DIR / "node_modules" / ".bin" / "wrangler"
_READY = re.compile(r"Ready on http://127\.0\.0\.1:(\d+)")
_MODEL_READY = re.compile(r"scripted model on (http://127\.0\.0\.1:\d+)")
# Keep wrangler off the network: no metrics, no Request.cf fetch, no update check.
_OFFLINE_ENV = {
    "WRANGLER_SEND_METRICS": "false",
    "WRANGLER_SEND_ERROR_REPORTS": "false",
    "CLOUDFLARE_CF_FETCH_ENABLED": "false",
    "WRANGLER_HIDE_BANNER": "true",
    "NO_COLOR": "1",
}


def missing_prerequisite() -> str | None:
    """Why the server cannot start here, or ``None`` if it can."""
    if not WRANGLER.exists():
        return f"{WRANGLER} is missing: run `npm ci` in {SERVER_DIR} (needs Node 20)"
    return None


class AgentsServer:
    """``wrangler dev --local`` serving the test Worker on a free loopback port."""

    def __init__(self, port: int = 0, *, gate: str | None = None) -> None:
        """Prepare a server for ``port`` (0: a free one); ``start()`` runs it.

        ``gate`` puts the stand-in for Cloudflare's edge in front (``"cookie"`` or ``"browser"``,
        see ``tests/agents_server/README.md``).
        """
        self._requested_port = port
        self._gate = gate
        self.port: int | None = None
        self.output: list[str] = []
        self.model_url: str | None = None  # the scripted model's endpoint, once started
        self._process: subprocess.Popen[str] | None = None
        self._model: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._state = tempfile.TemporaryDirectory(prefix="agents-state-")

    @property
    def url(self) -> str:
        """The base URL to give the client."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, deadline: float = 60.0) -> AgentsServer:
        """Start the scripted model, then wrangler, and wait for wrangler's ready line."""
        model_url = self.model_url = self._start_model(deadline)
        state = Path(self._state.name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFLARE_")}
        env.update(
            _OFFLINE_ENV,
            WRANGLER_LOG_PATH=str(state / "logs"),
            WRANGLER_REGISTRY_PATH=str(state / "registry"),
            XDG_CONFIG_HOME=str(state / "config"),
        )
        self._process = subprocess.Popen(
            [
                str(WRANGLER),
                "dev",
                "--local",
                "--ip",
                "127.0.0.1",
                "--port",
                str(self._requested_port),
                "--persist-to",
                str(state / "do"),
                "--show-interactive-dev-session=false",
                "--var",
                f"SCRIPTED_MODEL_URL:{model_url}",
                *(["--var", f"GATE:{self._gate}"] if self._gate else []),
            ],
            cwd=SERVER_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # so stop() can end wrangler and its workerd children
        )
        ready = threading.Event()
        self._reader = threading.Thread(target=self._read_output, args=(ready,), daemon=True)
        self._reader.start()
        if not ready.wait(deadline) or self.port is None:
            self.stop()
            tail = "".join(self.output[-30:])
            msg = f"wrangler dev did not become ready within {deadline:g} s:\n{tail}"
            raise RuntimeError(msg)
        return self

    def chat_request(self, text: str, *, within: float = 60.0) -> dict[str, Any]:
        """The first chat request whose last user message contains ``text``.

        ``room``, ``text`` (that message) and ``script`` (what the scripted model answered).

        Blocks until the Worker has asked the scripted model for its script (the request reached
        the model), or fails after ``within`` seconds.
        """
        return self._report("requests", "text", text, within)

    def stream_end(self, room: str, *, within: float = 60.0) -> dict[str, Any]:
        """How the slowed reply (``[slow]``, ``[drip]``) in ``room`` ended, as the Worker saw it.

        ``ended`` is ``"finished"`` or ``"cancelled"``, ``written`` the deltas it had handed to
        the SDK by then, ``total`` the script's. Blocks until the Worker reports the end, or
        fails after ``within`` seconds.
        """
        return self._report("streams", "room", room, within)

    def _report(self, kind: str, key: str, value: str, within: float) -> dict[str, Any]:
        assert self.model_url is not None, "the server is not running"
        query = urllib.parse.urlencode({key: value, "wait": within})
        try:
            with urllib.request.urlopen(  # noqa: S310 (our own endpoint on loopback)
                f"{self.model_url}/{kind}?{query}", timeout=within + 30
            ) as response:
                report: dict[str, Any] = json.load(response)
        except urllib.error.HTTPError as exc:
            msg = f"the Worker reported no {kind} with {key} {value!r} within {within:g} s"
            raise AssertionError(msg) from exc
        return report

    def _start_model(self, deadline: float) -> str:
        """Start ``tests/scripted_model.py``'s endpoint on a free port; return its URL."""
        self._model = subprocess.Popen(
            [sys.executable, "-m", "tests.scripted_model", "--port", "0"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        found: list[str] = []

        def read_url() -> None:
            assert self._model is not None
            assert self._model.stdout is not None
            match = _MODEL_READY.search(self._model.stdout.readline())
            if match:
                found.append(match.group(1))

        reader = threading.Thread(target=read_url, daemon=True)
        reader.start()
        reader.join(deadline)
        if not found:
            self.stop()
            msg = f"the scripted model did not start within {deadline:g} s"
            raise RuntimeError(msg)
        return found[0]

    def _read_output(self, ready: threading.Event) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self.output.append(line)
            match = _READY.search(line)
            if match and self.port is None:
                self.port = int(match.group(1))
                ready.set()
        ready.set()  # the process ended

    def stop(self) -> None:
        """Stop wrangler and workerd; no process outlives this call."""
        process = self._process
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        if process is not None:
            # workerd children share the process group; make sure none is left.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            if self._reader is not None:
                self._reader.join(10)
            if process.stdout is not None:
                process.stdout.close()
        model = self._model
        if model is not None:
            if model.poll() is None:
                model.terminate()
                try:
                    model.wait(10)
                except subprocess.TimeoutExpired:
                    model.kill()
                    model.wait(10)
            if model.stdout is not None:
                model.stdout.close()
        self._state.cleanup()

    def __enter__(self) -> Self:
        """Start on entering ``with``."""
        return self.start()

    def __exit__(self, *_: object) -> None:
        """Stop on leaving ``with``."""
        self.stop()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a kill stops all three cleanly
    with AgentsServer() as server:
        print(f"Agents server on {server.url} (Ctrl-C stops it)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
