"""What every test shares: a run of its own, and an isolated session cache.

Helpers (such as CI's rule on missing tools) are in ``tests/helpers.py``.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile

import pytest

from tests.helpers import RUN_MARK


def pytest_configure(config: pytest.Config) -> None:
    """Give the run a temporary folder of its own, and mark every process it starts.

    Tests judge only what they made: the browser tests look for Chromium profiles in this
    folder and for Chromium processes that carry this mark, so another run or another program
    on the machine (or what an interrupted run left behind) cannot fail them.

    The session cache is in this folder too, from the start: a fixture wider than a test (or
    code run before any fixture) never writes to the user's (each test then gets its own).
    """
    # A run stopped with SIGTERM winds down as after Ctrl-C: fixtures stop the servers and
    # browsers they started, instead of leaving wrangler and workerd running without a parent.
    signal.signal(signal.SIGTERM, _interrupt)
    config.stash[_OUTER_ENVIRONMENT] = {
        name: os.environ.get(name) for name in ("TMPDIR", RUN_MARK, CACHE_DIR)
    }
    run_folder = tempfile.mkdtemp(prefix="cf-playground-test-run-")
    os.environ["TMPDIR"] = run_folder
    os.environ[RUN_MARK] = run_folder
    os.environ[CACHE_DIR] = os.path.join(run_folder, "session-cache")
    tempfile.tempdir = None  # read TMPDIR again
    config.stash[_RUN_FOLDER] = run_folder


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the run's folder (the tests' own temporary files are in it too).

    The environment is put back as it was: a second run in the same process (``make cassettes``
    runs two) makes a folder of its own instead of one in a folder already removed.
    """
    run_folder = config.stash.get(_RUN_FOLDER, None)
    if run_folder is not None:
        shutil.rmtree(run_folder, ignore_errors=True)
    for name, value in config.stash.get(_OUTER_ENVIRONMENT, {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    tempfile.tempdir = None


CACHE_DIR = "CF_PLAYGROUND_CACHE_DIR"  # the session cache's folder
_RUN_FOLDER = pytest.StashKey[str]()
_OUTER_ENVIRONMENT = pytest.StashKey[dict[str, str | None]]()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


@pytest.fixture(autouse=True)
def isolated_session_cache(tmp_path, monkeypatch):
    """Every test gets its own cache folder, so no test reads or writes the user's."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR, str(folder))
    monkeypatch.delenv("CF_PLAYGROUND_URL", raising=False)
    # No test starts a browser unless it asks for one (the browser tests pass their own source).
    monkeypatch.setenv("CF_PLAYGROUND_BROWSER", "0")
    return folder
