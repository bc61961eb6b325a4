"""The interactive ``cf-playground chat``, typed at through a real pseudo-terminal.

Each test starts the command on a pty of its own (it is the command's controlling terminal, so
Ctrl-C typed there reaches it as SIGINT, as in a user's shell), types keys, and reads the screen.
Every wait has a deadline, and each test stops the one process it started.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from typing import IO

import pytest

from tests.helpers import CLI
from tests.reference_server import Fault
from tests.scripted_model import echo_reply

UP = "\x1b[A"
CTRL_C = "\x03"
CTRL_D = "\x04"
PROMPT = "you> "
# Run by the child after it became a session leader: take the pty as the controlling terminal
# (so Ctrl-C typed there is a SIGINT to the command), give SIGINT its default disposition as a
# user's shell does (a suite started in the background, `make test &`, inherits it ignored and
# Python would then never raise KeyboardInterrupt), then become the command.
_BECOME = (
    "import fcntl, os, signal, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0);"
    " signal.signal(signal.SIGINT, signal.SIG_DFL);"
    " os.execv(sys.argv[1], sys.argv[1:])"
)


class Terminal:
    """The command running on a pseudo-terminal: type keys, wait for text on the screen."""

    def __init__(self, *args: str, stdout: IO[bytes] | None = None) -> None:
        """Start ``cf-playground *args``; ``stdout``, if given, takes its standard output."""
        primary, secondary = os.openpty()
        # A wide screen, so readline never wraps or scrolls a line.
        fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-c", _BECOME, CLI, *args],
            stdin=secondary,
            stdout=secondary if stdout is None else stdout,
            stderr=secondary,
            start_new_session=True,
            env={**os.environ, "TERM": "xterm"},
        )
        os.close(secondary)
        self._fd = primary
        self.screen = ""  # everything shown so far, with the tty's \r\n as \n
        self._seen = 0  # where the next expect() starts looking

    def type(self, keys: str) -> None:
        os.write(self._fd, keys.encode())

    def expect(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        """Wait for ``pattern`` (a regex) to appear after what was last expected."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            found = regex.search(self.screen, self._seen)
            if found:
                self._seen = found.end()
                return found
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                pytest.fail(
                    f"{pattern!r} did not appear within {timeout} s; screen:\n{self.screen}"
                )

    def press_ctrl_c(self, timeout: float = 10) -> None:
        """Type Ctrl-C once the command sleeps, waiting for keys or for the server.

        A person presses it long after that. Pressed sooner, it could land in the moment
        before readline waits for keys: Python handles the signal only when that wait is
        interrupted, so it would wait for the next key (a race no person can hit, a test can).
        """
        deadline = time.monotonic() + timeout
        while not self._sleeping():
            if time.monotonic() > deadline:
                pytest.fail(f"the command never waited within {timeout} s; screen:\n{self.screen}")
            time.sleep(0.02)
        self.type(CTRL_C)

    def _sleeping(self) -> bool:
        with open(f"/proc/{self.process.pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{self.process.pid}/wchan") as wchan:
            waiting_in = wchan.read()
        return state == "S" and any(w in waiting_in for w in ("poll", "select", "futex"))

    def wait(self, timeout: float = 20) -> int:
        """Read the screen to the end and return the exit code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(deadline - time.monotonic()):
            pass
        try:
            return self.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pytest.fail(f"the command did not exit within {timeout} s; screen:\n{self.screen}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        os.close(self._fd)

    def _read(self, timeout: float) -> bool:
        """Read what is there within ``timeout``; False once the command has gone."""
        ready, _, _ = select.select([self._fd], [], [], min(timeout, 0.5))
        if not ready:
            return self.process.poll() is None
        try:
            data = os.read(self._fd, 65536)
        except OSError:  # EIO: the command closed the terminal
            return False
        if not data:
            return False
        self.screen += data.decode(errors="replace").replace("\r\n", "\n")
        return True


@pytest.fixture
def terminal():
    started: list[Terminal] = []

    def start(*args: str, stdout: IO[bytes] | None = None) -> Terminal:
        started.append(Terminal(*args, stdout=stdout))
        return started[-1]

    yield start
    for term in started:
        with contextlib.suppress(OSError):
            term.close()


def user_messages(request) -> list[str]:
    return [m["content"] for m in request.json["messages"] if m["role"] == "user"]


def test_typing_a_line_prints_the_reply_and_ctrl_d_leaves_with_0(terminal, data_stream_server):
    term = terminal("chat", "--base-url", data_stream_server.url)
    term.expect("/help lists the commands")
    term.expect(PROMPT)
    term.type("hello there\r")
    term.expect(r"Echo: hello there \| ")
    term.expect(PROMPT)
    term.type(CTRL_D)
    assert term.wait() == 0


def test_answers_redirected_to_a_file_hold_no_prompt(terminal, data_stream_server, tmp_path):
    # `cf-playground chat > answers.txt`, typed at a terminal: the banner and the prompt stay
    # on the screen (stderr), the file gets the reply alone.
    answers = tmp_path / "answers.txt"
    with answers.open("wb") as stdout:
        term = terminal("chat", "-i", "--base-url", data_stream_server.url, stdout=stdout)
        term.expect("/help lists the commands")
        term.expect(PROMPT)
        term.type("hello there\r")
        term.expect(PROMPT)  # the reply went to the file; the next prompt is on the screen
        term.type(CTRL_D)
        assert term.wait() == 0
    (request,) = data_stream_server.inference_requests
    reply = "".join(echo_reply(request.json, "data-stream"))
    assert answers.read_text() == f"{reply}\n"
    assert "Echo: hello there" not in term.screen


def test_the_up_arrow_recalls_the_previous_line(terminal, data_stream_server):
    term = terminal("chat", "--base-url", data_stream_server.url)
    term.expect(PROMPT)
    term.type("first line\r")
    term.expect(r"Echo: first line \| .*turns=1")
    term.expect(PROMPT)
    term.type(UP)
    term.type("\r")
    term.expect(r"Echo: first line \| .*turns=3")
    term.expect(PROMPT)
    assert "^[[A" not in term.screen
    assert user_messages(data_stream_server.inference_requests[-1]) == ["first line"] * 2
    term.type("/exit\r")
    assert term.wait() == 0


def test_help_lists_the_commands(terminal, data_stream_server):
    term = terminal("chat", "--base-url", data_stream_server.url)
    term.expect(PROMPT)
    term.type("/help\r")
    for command in ("/help", "/reset", "/exit"):
        term.expect(re.escape(command))
    term.expect("Ctrl-C stops a reply")
    term.expect(PROMPT)
    term.type("/quit\r")
    assert term.wait() == 0
    assert data_stream_server.inference_requests == []


def test_reset_says_it_cleared_the_history(terminal, data_stream_server):
    term = terminal("chat", "--base-url", data_stream_server.url, "-s", "Sys")
    term.expect(PROMPT)
    term.type("remember me\r")
    term.expect(r"Echo: remember me")
    term.expect(PROMPT)
    term.type("/reset\r")
    term.expect(r"history cleared: 2 message\(s\) forgotten \(the system prompt is kept\)")
    term.expect(PROMPT)
    term.type("who am I\r")
    term.expect(r"Echo: who am I \| .*system=Sys .*turns=1")
    term.expect(PROMPT)
    assert user_messages(data_stream_server.inference_requests[-1]) == ["who am I"]
    term.type(CTRL_D)
    assert term.wait() == 0


def test_an_unknown_command_is_an_error_not_a_message(terminal, data_stream_server):
    term = terminal("chat", "--base-url", data_stream_server.url)
    term.expect(PROMPT)
    term.type("/frobnicate now\r")
    term.expect(
        r"error: no command /frobnicate; the commands are /help, /reset, /image, /exit, /quit"
    )
    term.expect(PROMPT)
    term.type("//frobnicate is a word\r")  # the way to send a message that starts with /
    term.expect(r"Echo: /frobnicate is a word")
    term.expect(PROMPT)
    assert [user_messages(r) for r in data_stream_server.inference_requests] == [
        ["/frobnicate is a word"]
    ]
    term.type(CTRL_D)
    assert term.wait() == 0


def test_ctrl_c_stops_a_slow_reply_and_returns_to_the_prompt(terminal, data_stream_server):
    words = ["Slow ", "reply, ", "word ", "after ", "word ", "that ", "never ", "ends."]
    data_stream_server.push(Fault(reply=words, chunk_delay=1.0))
    term = terminal("chat", "--base-url", data_stream_server.url)
    term.expect(PROMPT)
    term.type("take your time\r")
    term.expect("Slow ")
    stopped_at = time.monotonic()
    term.press_ctrl_c()
    term.expect(r"\[reply stopped; this exchange is dropped from the history; the up arrow")
    term.expect(PROMPT)
    assert time.monotonic() - stopped_at < 5  # not after the whole reply
    assert "ends." not in term.screen
    # What arrived stays on the screen, above the note.
    assert re.search(r"you> take your time\nSlow .*\n\[reply stopped", term.screen)
    term.type("are you there\r")
    term.expect(r"Echo: are you there \| .*turns=1")
    term.expect(PROMPT)
    # The stopped exchange is not in the history the model gets next.
    assert user_messages(data_stream_server.inference_requests[-1]) == ["are you there"]
    term.type(CTRL_D)
    assert term.wait() == 0


def test_ctrl_c_while_waiting_for_the_first_byte(terminal, data_stream_server):
    data_stream_server.push(Fault(stall_before=20))  # far longer than the test waits
    term = terminal("chat", "--base-url", data_stream_server.url)
    term.expect(PROMPT)
    term.type("anyone there\r")
    deadline = time.monotonic() + 10
    while not data_stream_server.inference_requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert data_stream_server.inference_requests, "the request never reached the server"
    term.press_ctrl_c()
    term.expect(r"\[reply stopped; this exchange is dropped from the history", timeout=5)
    term.expect(PROMPT)
    term.type(CTRL_D)
    assert term.wait() == 0


def test_ctrl_c_stops_a_slow_reply_over_the_websocket(terminal, agents_server):
    term = terminal("chat", "--base-url", agents_server.url, "--wire-format", "agents")
    term.expect(PROMPT)
    term.type("[slow:1500] take your time\r")
    term.expect("Slow ")
    term.press_ctrl_c()
    term.expect(r"\[reply stopped; this exchange is dropped from the history")
    term.expect(PROMPT)
    term.type("are you there\r")
    term.expect(r"Echo from the mock model\.")
    term.expect(r"roles: user\n")
    term.expect(r"last user: are you there")
    term.expect(PROMPT)
    assert "done." not in term.screen
    term.type(CTRL_D)
    assert term.wait() == 0


def test_ctrl_c_at_the_prompt_leaves_with_130(terminal, data_stream_server):
    term = terminal("chat", "--base-url", data_stream_server.url)
    term.expect(PROMPT)
    term.press_ctrl_c()
    assert term.wait() == 130
    assert "Traceback" not in term.screen


def test_ctrl_c_during_a_one_shot_reply_keeps_the_text_and_exits_130(terminal, sse_server):
    sse_server.push(Fault(reply=["Slow ", "reply, ", "never ", "ends."], chunk_delay=1.0))
    term = terminal("chat", "take your time", "--base-url", sse_server.url)
    term.expect("Slow ")
    term.press_ctrl_c()
    term.expect(r"\ninterrupted\n")
    assert term.wait() == 130
    assert "ends." not in term.screen
    assert "Traceback" not in term.screen
