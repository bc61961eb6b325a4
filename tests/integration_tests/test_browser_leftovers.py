"""What a killed process leaves behind is swept at the next start: a real Chromium, really killed.

The profiles live in this run's own temporary folder (``tests/conftest.py``), so the sweep and
these checks see only what this test made.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from langchain_cloudflare_playground.client.browser.chromium import (
    PROFILE_PREFIX,
    Chromium,
    sweep_stale_profiles,
)
from tests.helpers import CLI, chromium_processes, our_profiles, require_tool
from tests.reference_server import ReferenceServer

# Starts the package's Chromium, says where its profile is, and waits to be killed.
_LAUNCHER = textwrap.dedent(
    """
    import asyncio, sys
    from langchain_cloudflare_playground.client.browser.chromium import Chromium

    async def main():
        chromium = Chromium(sys.argv[1])
        await chromium.start()
        print(chromium._profile, chromium.pid, flush=True)
        await asyncio.sleep(120)

    asyncio.run(main())
    """
)


@pytest.fixture
def chromium():
    return require_tool("chromium")


def _killed_launch(executable: str) -> Path:
    """A browser whose process (and its launcher) were killed before either could clean up."""
    launcher = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, executable],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert launcher.stdout is not None
        profile, pid = launcher.stdout.readline().split()
    finally:
        launcher.kill()
        launcher.wait(10)
        if launcher.stdout is not None:
            launcher.stdout.close()
    os.killpg(int(pid), signal.SIGKILL)  # the browser's whole process group
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(int(pid), 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    return Path(profile)


def test_the_next_start_sweeps_a_killed_browsers_profile_and_nothing_else(chromium):
    stale = _killed_launch(chromium)
    assert stale.is_dir()
    assert (stale / "SingletonLock").is_symlink()  # Chromium's own note of its owner
    # Two folders that must stay: one whose owner still runs, one still being set up.
    running = Path(tempfile.mkdtemp(prefix=PROFILE_PREFIX))
    (running / "SingletonLock").symlink_to(f"{socket.gethostname()}-{os.getpid()}")
    starting = Path(tempfile.mkdtemp(prefix=PROFILE_PREFIX))

    async def start_a_browser() -> bool:
        async with Chromium(chromium) as browser:
            return browser.alive

    try:
        assert asyncio.run(start_a_browser())
        assert not stale.exists()
        assert running.is_dir()
        assert starting.is_dir()
    finally:
        for folder in (running, starting):
            (folder / "SingletonLock").unlink(missing_ok=True)
            folder.rmdir()


def test_the_sweep_leaves_what_it_cannot_judge(tmp_path):
    other_host = tmp_path / f"{PROFILE_PREFIX}other-host"
    other_host.mkdir()
    (other_host / "SingletonLock").symlink_to("another-machine-1")
    garbled = tmp_path / f"{PROFILE_PREFIX}garbled"
    garbled.mkdir()
    (garbled / "SingletonLock").symlink_to(f"{socket.gethostname()}-not-a-pid")
    old_unlocked = tmp_path / f"{PROFILE_PREFIX}old"
    old_unlocked.mkdir()
    an_hour_ago = time.time() - 3600
    os.utime(old_unlocked, (an_hour_ago, an_hour_ago))
    not_ours = tmp_path / "some-other-folder"
    not_ours.mkdir()
    os.utime(not_ours, (an_hour_ago, an_hour_ago))

    assert sweep_stale_profiles(str(tmp_path)) == [str(old_unlocked)]
    assert other_host.is_dir()
    assert garbled.is_dir()
    assert not_ours.is_dir()


def test_sigterm_to_the_command_line_stops_its_browser_and_removes_its_profile(chromium):
    # A session refresh against a page that never clears: the browser waits out its deadline.
    with ReferenceServer("data-stream", gate=True) as site:
        site.challenge_forever = True
        cli = subprocess.Popen(
            [CLI, "session", "refresh", "--base-url", site.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "CHROME_PATH": chromium},
        )
        try:
            deadline = time.monotonic() + 30
            while not our_profiles() or not chromium_processes():
                assert time.monotonic() < deadline, "the browser never started"
                assert cli.poll() is None, cli.communicate()
                time.sleep(0.05)
            browsers = chromium_processes()
            cli.send_signal(signal.SIGTERM)
            _out, err = cli.communicate(timeout=30)
        finally:
            if cli.poll() is None:
                cli.kill()
                cli.communicate()
    assert cli.returncode == 128 + signal.SIGTERM
    assert err.strip().endswith("terminated")
    assert "Traceback" not in err
    assert chromium_processes() & browsers == set()
    assert our_profiles() == []
