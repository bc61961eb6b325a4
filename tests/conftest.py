"""Fixtures shared by every test: an isolated session cache, and CI's rule on missing tools."""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def isolated_session_cache(tmp_path, monkeypatch):
    """Every test gets its own cache folder, so no test reads or writes the user's."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("CF_PLAYGROUND_CACHE_DIR", str(folder))
    monkeypatch.delenv("CF_PLAYGROUND_URL", raising=False)
    # No test starts a browser unless it asks for one (the browser tests pass their own source).
    monkeypatch.setenv("CF_PLAYGROUND_BROWSER", "0")
    return folder


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
