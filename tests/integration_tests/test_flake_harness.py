"""``make flake`` stopped halfway leaves nothing running: no burner, no round of pytest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.flake import ROOT


def _children_of(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` right now (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_stops_the_burners_and_the_round(tmp_path):
    started = tmp_path / "round started"
    waiting = tmp_path / "test_waits.py"
    waiting.write_text(
        "import pathlib, time\n\n\ndef test_waits():\n"
        f"    pathlib.Path({str(started)!r}).touch()\n"
        "    time.sleep(600)\n"
    )
    harness = subprocess.Popen(
        [sys.executable, "-m", "tests.flake", "--rounds", "1", str(waiting)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while not started.exists():
            assert harness.poll() is None, "the flake check ended before its round began"
            assert time.monotonic() < deadline, "the round's test never started"
            time.sleep(0.05)
        children = _children_of(harness.pid)
        # One burner per core and the round's pytest.
        assert len(children) == (os.cpu_count() or 1) + 1, children
        harness.send_signal(signal.SIGTERM)
        assert harness.wait(60) == 128 + signal.SIGTERM
        assert [pid for pid in children if _running(pid)] == []
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.wait()
        for pid in children:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
