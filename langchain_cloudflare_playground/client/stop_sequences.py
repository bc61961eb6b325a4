"""Stop sequences enforced on the client, for servers that ignore them (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["StopSequenceFilter"]


class StopSequenceFilter:
    """Passes text through until a stop sequence appears, however the text is split.

    Text that could be the start of a stop sequence is held back until the next piece tells;
    the stop sequence itself and everything after it are dropped.
    """

    def __init__(self, stops: Sequence[str] | None) -> None:
        """Watch for ``stops`` (empty strings are ignored)."""
        self._stops = [stop for stop in stops or () if stop]
        self._held = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """The part of ``text`` (with what was held) that is safe to emit now."""
        if self.stopped:
            return ""
        if not self._stops:
            return text
        buffer = self._held + text
        cut = min((i for i in (buffer.find(s) for s in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            self._held = ""
            return buffer[:cut]
        keep = max(_overlap(buffer, stop) for stop in self._stops)
        self._held = buffer[len(buffer) - keep :] if keep else ""
        return buffer[: len(buffer) - keep]

    def flush(self) -> str:
        """What is still held back when the reply ends (it was not a stop sequence)."""
        held, self._held = self._held, ""
        return "" if self.stopped else held


def _overlap(text: str, stop: str) -> int:
    """The length of the longest end of ``text`` that begins ``stop``."""
    for length in range(min(len(text), len(stop) - 1), 0, -1):
        if stop.startswith(text[-length:]):
            return length
    return 0
