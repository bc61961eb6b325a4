"""How much of the machine the rest of it took while a step ran: every timing here moves with it.

The benchmarks pair ours with a baseline in the same turns, so a machine that is busy the whole
time slows both; but a machine that others load in bursts (other test suites, a browser) moves
one reading of a pair and not the other. What the harness and its servers use is told apart
from the rest by walking the process tree from this process, through ``/proc`` (Linux only:
elsewhere the figure is ``None``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Snapshot", "others_cores", "snapshot"]

_PROC = Path("/proc")


@dataclass(frozen=True)
class Snapshot:
    """The machine's busy CPU time and this process tree's, at one moment (clock ticks)."""

    seconds: float
    busy_ticks: int
    ours_ticks: int


def snapshot() -> Snapshot | None:
    """Now; ``None`` where ``/proc`` cannot tell."""
    try:
        return Snapshot(time.monotonic(), _busy_ticks(), _tree_ticks(os.getpid()))
    except (OSError, ValueError, IndexError):
        return None


def others_cores(before: Snapshot | None, after: Snapshot | None) -> float | None:
    """How many cores, on average, everything but this process tree kept busy in between."""
    if before is None or after is None or after.seconds <= before.seconds:
        return None
    ticks = (after.busy_ticks - before.busy_ticks) - (after.ours_ticks - before.ours_ticks)
    return max(ticks, 0) / os.sysconf("SC_CLK_TCK") / (after.seconds - before.seconds)


def _busy_ticks() -> int:
    # cpu  user nice system idle iowait irq softirq steal ...: all but idle and iowait.
    fields = [int(value) for value in (_PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields[:8]) - fields[3] - fields[4]


def _tree_ticks(root: int) -> int:
    """CPU ticks of ``root`` and every live descendant, with the children each has waited for."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it ended meanwhile
        # The fields after the command name, which is in parentheses and may hold anything.
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        # utime, stime, cutime, cstime: fields 14 to 17 of proc(5), from the state (field 3) on.
        ticks[pid] = sum(int(value) for value in fields[11:15])
    total = 0
    for pid, own in ticks.items():
        ancestor = pid
        while ancestor not in (root, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor == root:
            total += own
    return total
