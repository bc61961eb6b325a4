"""A test run and ``make demo-local`` never write to the user's session cache.

A chat with a playground remembers in the session cache which transport worked for it, by base
URL; the local servers of the tests and of the demo have a new loopback port every run, so
each run added entries to ``~/.cache/cloudflare-playground/session.json`` that no later run
could use. Each test here runs the real thing in a process whose home is an empty folder of its
own, with ``CF_PLAYGROUND_CACHE_DIR`` and the XDG folders unset as for a user, and looks there
for the cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

from tests.helpers import CLI, ROOT

if TYPE_CHECKING:
    from pathlib import Path

# A test whose fixture, wider than a test, chats with a playground: it is set up before any
# test's own fixtures, so only what the run sets up front keeps it off the user's cache.
_WIDE_FIXTURE_TEST = textwrap.dedent(
    """
    import os
    import subprocess

    import pytest

    CLI = os.environ["CF_PLAYGROUND_TEST_CLI"]

    @pytest.fixture(scope="module")
    def reply():
        url = os.environ["CF_PLAYGROUND_TEST_SERVER"]
        done = subprocess.run(
            [CLI, "chat", "hello", "--base-url", url], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def test_the_chat_answered(reply):
        assert reply.startswith("Echo: hello")
    """
)


def _as_a_user(home: Path, **more: str) -> dict[str, str]:
    """This environment less what points the cache away, with ``home`` as the home folder."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("XDG_") and name != "CF_PLAYGROUND_CACHE_DIR"
    }
    return {**env, "HOME": str(home), **more}


def _users_cache(home: Path) -> Path:
    return home / ".cache" / "cloudflare-playground" / "session.json"


def _run_wide_fixture_test(home: Path, url: str, *plugins: str) -> None:
    """Run the test above in a pytest of its own, with ``home`` as the home folder."""
    home.mkdir()
    folder = home.parent
    test_file = folder / "test_wide_fixture.py"
    test_file.write_text(_WIDE_FIXTURE_TEST)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(test_file), "-q", "-p", "no:cacheprovider"]
        + [option for plugin in plugins for option in ("-p", plugin)]
        + ["--rootdir", str(folder), "-c", os.devnull],
        cwd=ROOT,
        env=_as_a_user(home, CF_PLAYGROUND_TEST_SERVER=url, CF_PLAYGROUND_TEST_CLI=CLI),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_fixture_wider_than_a_test_leaves_the_users_cache_alone(tmp_path, data_stream_server):
    bare, suite = tmp_path / "bare", tmp_path / "suite"
    # Without the suite's conftest, the same test writes the user's cache: the test can fail.
    _run_wide_fixture_test(bare, data_stream_server.url)
    assert _users_cache(bare).is_file()
    _run_wide_fixture_test(suite, data_stream_server.url, "tests.conftest")
    assert list(suite.iterdir()) == []


def test_the_local_demo_leaves_the_users_cache_alone(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    demo = subprocess.run(
        [sys.executable, "examples/demo.py", "--local"],
        cwd=ROOT,
        env=_as_a_user(home),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr
    assert "== query" in demo.stdout  # both halves ran, and each chatted with the playground
    assert not _users_cache(home).exists()
    assert list(home.iterdir()) == []
