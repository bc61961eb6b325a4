"""The live canary: the real site, only when asked (``make live``), never in CI.

Every test here is marked ``live``; ``make test`` leaves them out (``-m "not live"`` in the
pytest settings). Without ``CF_PLAYGROUND_LIVE=1`` they are skipped, and in CI they are skipped
even with it: a run against a site we do not control must not decide a build. When one fails,
the report carries what ``cf-playground doctor`` says about the site at that moment.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from pathlib import Path

import pytest

from tests.helpers import IN_CI
from tests.live_tests.site import LIVE_URL

HERE = Path(__file__).parent
ENABLED = os.environ.get("CF_PLAYGROUND_LIVE") == "1" and not IN_CI
WHY_SKIPPED = (
    "the live canary never runs in CI"
    if IN_CI
    else f"the live canary runs only with CF_PLAYGROUND_LIVE=1 (make live), against {LIVE_URL}"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark this folder's tests ``live``; skip them unless the canary is asked for."""
    del config
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.live)
            if not ENABLED:
                item.add_marker(pytest.mark.skip(reason=WHY_SKIPPED))


@pytest.fixture(scope="session")
def live_cache_dir(tmp_path_factory) -> Path:
    """One session cache for the whole canary: the rung that works is learnt once."""
    return tmp_path_factory.mktemp("live-cache")


@pytest.fixture(autouse=True)
def live_site(monkeypatch, live_cache_dir) -> str:
    """The live site, reached as a user reaches it: the ladder may climb to a browser."""
    monkeypatch.setenv("CF_PLAYGROUND_CACHE_DIR", str(live_cache_dir))
    monkeypatch.delenv("CF_PLAYGROUND_BROWSER", raising=False)
    return LIVE_URL


_DOCTOR_REPORT = pytest.StashKey[str]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """A failed live test carries the doctor's report (made once per run)."""
    report = yield
    if report.failed and HERE in Path(item.path).parents:
        stash = item.config.stash
        if _DOCTOR_REPORT not in stash:
            stash[_DOCTOR_REPORT] = _doctor_report()
        report.sections.append(("cf-playground doctor", stash[_DOCTOR_REPORT]))
    del call
    return report


def _doctor_report() -> str:
    from langchain_cloudflare_playground.doctor import DoctorSettings, as_text, diagnose

    settings = DoctorSettings(base_url=LIVE_URL)
    # Off the test's event loop: the hook may run while one is current in this thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        diagnosis = pool.submit(asyncio.run, diagnose(settings)).result(timeout=600)
    return as_text(diagnosis)
