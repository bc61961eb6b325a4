"""Fixtures shared by every test: an isolated session cache.

Helpers (such as CI's rule on missing tools) are in ``tests/helpers.py``.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_session_cache(tmp_path, monkeypatch):
    """Every test gets its own cache folder, so no test reads or writes the user's."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("CF_PLAYGROUND_CACHE_DIR", str(folder))
    monkeypatch.delenv("CF_PLAYGROUND_URL", raising=False)
    # No test starts a browser unless it asks for one (the browser tests pass their own source).
    monkeypatch.setenv("CF_PLAYGROUND_BROWSER", "0")
    return folder
