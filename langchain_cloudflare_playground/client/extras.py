"""The optional extras, and the error that names the one to install when it is missing."""

from __future__ import annotations

import importlib.util

__all__ = ["is_installed", "require_extra"]

DISTRIBUTION = "cloudflare-playground"


def is_installed(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package that is missing or broken
        return False


def require_extra(module: str, *, extra: str, needed_by: str) -> None:
    """Raise a ``ModuleNotFoundError`` that says what to install when ``module`` is missing.

    Called before an adapter imports its framework, so that a missing framework reads as a
    missing extra rather than as a bare "No module named ...".
    """
    if not is_installed(module):
        msg = (
            f"{needed_by} needs the {extra!r} extra, which is not installed:"
            f' pip install "{DISTRIBUTION}[{extra}]" (or, from a checkout of the source,'
            f' pip install ".[{extra}]")'
        )
        raise ModuleNotFoundError(msg, name=module)
