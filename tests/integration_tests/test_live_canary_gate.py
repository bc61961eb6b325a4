"""The live canary stays out of ordinary runs and CI, and a failure carries the doctor's report.

Each test runs pytest on ``tests/live_tests`` in a subprocess; none reaches the real site (the
failing run is pointed at a loopback port where nothing listens).
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import ROOT
from tests.reference_server import free_port

LIVE_TESTS = "tests/live_tests"


def run_pytest(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CF_PLAYGROUND_LIVE", "CI"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", LIVE_TESTS, "-p", "no:cacheprovider", "-q", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**clean, **env},
    )  # fmt: skip


def test_an_ordinary_run_leaves_the_live_tests_out():
    done = run_pytest(env={})
    assert done.returncode == 5, done.stdout  # pytest's "no tests ran"
    assert "deselected" in done.stdout
    assert "passed" not in done.stdout


def test_asked_for_without_the_switch_they_skip_and_say_why():
    done = run_pytest("-m", "live", env={})
    assert done.returncode == 0, done.stdout
    assert "passed" not in done.stdout
    assert "skipped" in done.stdout
    assert "the live canary runs only with CF_PLAYGROUND_LIVE=1 (make live)" in done.stdout


def test_in_ci_they_skip_even_with_the_switch():
    done = run_pytest("-m", "live", env={"CF_PLAYGROUND_LIVE": "1", "CI": "true"})
    assert done.returncode == 0, done.stdout
    assert "passed" not in done.stdout
    assert "the live canary never runs in CI" in done.stdout


def test_a_failure_carries_the_doctors_report():
    dead = f"http://127.0.0.1:{free_port()}"
    done = run_pytest(
        "-m", "live", "-k", "model_list",
        env={"CF_PLAYGROUND_LIVE": "1", "CF_PLAYGROUND_LIVE_URL": dead},
    )  # fmt: skip
    assert done.returncode == 1, done.stdout
    assert "cf-playground doctor" in done.stdout
    assert f"cf-playground doctor: {dead}" in done.stdout
    assert "nothing listening (connection refused)" in done.stdout
    assert "advice: tcp connect: nothing answers at" in done.stdout
