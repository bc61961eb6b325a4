"""Repetitions, medians and ratios: every figure is ours against a baseline from the same run."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

__all__ = ["Comparison"]


@dataclass(frozen=True)
class Comparison:
    """Ours against a baseline, from paired repetitions run alternately (so drift cancels).

    ``min_ratio``/``max_ratio`` bound the median ratio ours/baseline; ``condition`` is any other
    check of the target (an overhead in ms, zero errors), already decided by the scenario.
    """

    name: str
    unit: str
    ours: list[float]
    baseline: list[float]
    target: str = "(measured)"
    min_ratio: float | None = None
    max_ratio: float | None = None
    condition: bool | None = None
    note: str = ""

    @property
    def ratios(self) -> list[float]:
        """Ours over baseline, per pair."""
        return [o / b for o, b in zip(self.ours, self.baseline, strict=True) if b]

    @property
    def ratio(self) -> float:
        """The median of the per-pair ratios."""
        return statistics.median(self.ratios)

    @property
    def met(self) -> bool | None:
        """Whether the target is met; ``None`` for a figure with no target."""
        checks = []
        if self.min_ratio is not None:
            checks.append(self.ratio >= self.min_ratio)
        if self.max_ratio is not None:
            checks.append(self.ratio <= self.max_ratio)
        if self.condition is not None:
            checks.append(self.condition)
        return all(checks) if checks else None

    def as_dict(self) -> dict[str, object]:
        """The comparison as JSON-ready data."""
        return {
            "name": self.name,
            "unit": self.unit,
            "ours_median": statistics.median(self.ours),
            "baseline_median": statistics.median(self.baseline),
            "ratio_median": self.ratio,
            "ratio_min": min(self.ratios),
            "ratio_max": max(self.ratios),
            "repetitions": len(self.ours),
            "target": self.target,
            "met": self.met,
            "note": self.note,
            "ours": self.ours,
            "baseline": self.baseline,
        }
