"""How a run of ``cf-playground`` ends: the exit codes, and the exceptions that carry it there."""

from __future__ import annotations

import signal

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "Terminated",
    "UsageError",
    "raise_terminated",
    "usage_line",
]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(BaseException):
    """SIGTERM, raised where the program is, so that everything it opened closes on the way out.

    A BaseException, like KeyboardInterrupt: no ``except Exception`` on the way swallows it.
    """


def raise_terminated(_signum: int, _frame: object) -> None:
    """The SIGTERM handler: raise :class:`Terminated` where the program is."""
    raise Terminated


class UsageError(Exception):
    """A usage error found after parsing (an empty prompt): exit 2, as argparse's own are."""


def usage_line(prog: str, message: str) -> str:
    """A usage error on one line, with the help a command away."""
    return f"{prog}: error: {message} (see {prog} --help)"
