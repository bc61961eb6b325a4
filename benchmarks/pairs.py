"""Readers run in turn, and their readings as rows: what every throughput comparison shares."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from benchmarks.stats import Comparison

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from benchmarks.streams import Reading

__all__ = ["Readings", "alternate", "in_turn", "rate", "throughput_rows"]

Readings = list[tuple["Reading", float]]  # each reading with its CPU seconds


async def in_turn(repetitions: int, *readers: Callable[[], Awaitable[Reading]]) -> list[Readings]:
    """Run every reader in turn, after one warm-up each; each reading with its CPU seconds.

    Each turn starts with the next reader (ABC, BCA, CAB, ...; two readers alternate AB, BA),
    so that no reader always runs first, or always right after the same other one.
    """
    for read in readers:
        await read()
    readings: list[Readings] = [[] for _ in readers]
    order = list(range(len(readers)))
    for turn in range(repetitions):
        shift = turn % len(order)
        for index in order[shift:] + order[:shift]:
            cpu = time.process_time()
            reading = await readers[index]()
            readings[index].append((reading, time.process_time() - cpu))
    return readings


async def alternate(
    repetitions: int,
    ours: Callable[[], Awaitable[Reading]],
    baseline: Callable[[], Awaitable[Reading]],
) -> tuple[Readings, Readings]:
    """Run both, alternately, after one warm-up each; each reading with its CPU seconds."""
    mine, theirs = await in_turn(repetitions, ours, baseline)
    return mine, theirs


def rate(reading: Reading) -> float:
    """Chunks per second from the first chunk to the last: the time the server takes to start
    (building a long reply) is the same for both readers and is left out."""
    return (reading.chunks - 1) / (reading.total_seconds - reading.first_seconds)


def throughput_rows(  # noqa: PLR0913 (two rows: their targets and note are keywords)
    label: str,
    mine: Readings,
    theirs: Readings,
    *,
    min_throughput: float | None = None,
    max_cpu: float | None = None,
    note: str = "",
) -> list[Comparison]:
    """``throughput, {label}`` and ``CPU per chunk, {label}``, each with its target if given."""
    return [
        Comparison(
            f"throughput, {label}",
            "chunks/s",
            [rate(r) for r, _ in mine],
            [rate(r) for r, _ in theirs],
            target="(measured)" if min_throughput is None else f">= {min_throughput:g}x",
            min_ratio=min_throughput,
            note=note,
        ),
        Comparison(
            f"CPU per chunk, {label}",
            "us",
            [cpu / r.chunks * 1e6 for r, cpu in mine],
            [cpu / max(r.chunks, 1) * 1e6 for r, cpu in theirs],
            target="(measured)" if max_cpu is None else f"<= {max_cpu:g}x",
            max_ratio=max_cpu,
        ),
    ]
