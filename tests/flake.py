"""The flake check: the tests that wait on time, sockets or processes, round after round, on a
machine kept busy.

Every core runs a CPU burner of this process's own (a busy loop in a child process) while the
modules below run ``--rounds`` times in a row, each round a pytest run of its own; the burners are
stopped after, whatever happened (a SIGTERM or SIGHUP too, which also ends the round's pytest).
A test that passes alone but fails here waits on a sleep or a tight window instead of an event.
Not part of ``make test``: run ``make flake`` before stopping when a change touches such waits::

    python -m tests.flake --rounds 5                      # make flake
    python -m tests.flake --rounds 2 tests/integration_tests/test_resume.py
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = [
    f"tests/integration_tests/{name}.py"
    for name in (
        "test_resume",
        "test_transports",
        "test_agents_frames",
        "test_browser_relay",
        "test_fault_matrix",
        "test_soak",
        "test_http_chat",
        "test_batches",
        "test_cutting_proxy",
        "test_browser_sessions",
        "test_impersonating_transport",
        "test_websocket_watchdog_fallback",
        "test_serve_faults",
    )
]
_BURN = "while True: pass"
_SUMMARY = re.compile(r"^=*\s*(\d+ (?:passed|failed).*?)\s*=*$", re.MULTILINE)


def burners(count: int) -> list[subprocess.Popen[bytes]]:
    """``count`` busy loops, each a child process of its own."""
    return [
        subprocess.Popen([sys.executable, "-c", _BURN], stdin=subprocess.DEVNULL)
        for _ in range(count)
    ]


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """End every burner and wait for it (none outlives the check)."""
    for process in processes:
        process.kill()
    for process in processes:
        process.wait()


def one_round(modules: list[str]) -> tuple[int, str]:
    """Run ``modules`` once; the exit code and pytest's closing line (the output on failure)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    found = _SUMMARY.findall(result.stdout)
    closing = found[-1] if found else "(no closing line)"
    if result.returncode != 0:
        sys.stdout.write(result.stdout[-20000:] + result.stderr[-5000:])
    return result.returncode, closing


def main() -> int:
    """Run the rounds under load; exit 1 if any round failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("modules", nargs="*", default=MODULES)
    args = parser.parse_args()
    # Python dies of SIGTERM without unwinding: the burners would spin on, orphaned. As an
    # exception it runs the finally below, and subprocess.run kills the round's pytest.
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, _exit_on_signal)
    cores = os.cpu_count() or 1
    load = burners(cores)
    failed = 0
    try:
        for number in range(1, args.rounds + 1):
            started = time.monotonic()
            code, closing = one_round(args.modules)
            failed += code != 0
            verdict = "ok" if code == 0 else "FAILED"
            print(
                f"flake round {number}/{args.rounds} with {cores} burners: {verdict},"
                f" {closing} ({time.monotonic() - started:.0f} s)",
                flush=True,
            )
    finally:
        stop(load)
    print(f"flake: {args.rounds - failed} of {args.rounds} rounds passed under load", flush=True)
    return 1 if failed else 0


def _exit_on_signal(number: int, _frame: object) -> None:
    raise SystemExit(128 + number)


if __name__ == "__main__":
    sys.exit(main())
