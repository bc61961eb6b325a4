"""The names closest to a wrong one, and the "Did you mean" that offers them.

One way to suggest, for every name a user can get wrong: a model, an option, a keyword.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["closest_names", "did_you_mean"]


def closest_names(name: str, known: Iterable[str], *, limit: int = 5) -> list[str]:
    """Up to ``limit`` names of ``known`` that look like ``name``, the closest first."""
    return difflib.get_close_matches(name, sorted(known), n=limit, cutoff=0.5)


def did_you_mean(suggestions: Sequence[str]) -> str:
    """``"Did you mean: a, b?"``, or ``""`` when there is nothing to suggest."""
    return f"Did you mean: {', '.join(suggestions)}?" if suggestions else ""
