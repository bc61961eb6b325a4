"""The package's warnings while a command runs, kept to be shown in the command's own words."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["collected_warnings"]

_LOGGER = "langchain_cloudflare_playground"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def collected_warnings() -> Iterator[list[str]]:
    """The messages of the package's warnings logged inside the block, as they come.

    The command line prints them after its output; the doctor puts them in its report.
    """
    collect = _Collect()
    logger = logging.getLogger(_LOGGER)
    logger.addHandler(collect)
    try:
        yield collect.messages
    finally:
        logger.removeHandler(collect)
