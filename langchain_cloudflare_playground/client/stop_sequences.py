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
        cut = self._first_match(buffer)
        # Where a stop sequence may be starting that the next piece could complete.
        keep = max(_overlap(buffer, stop) for stop in self._stops)
        pending = len(buffer) - keep
        if cut >= 0 and cut <= pending:
            self.stopped = True
            self._held = ""
            return buffer[:cut]
        # No match yet, or one that a longer stop sequence starting earlier may still beat.
        self._held = buffer[pending:]
        return buffer[:pending]

    def flush(self) -> str:
        """What is still held back when the reply ends, up to any stop sequence in it."""
        held, self._held = self._held, ""
        if self.stopped:
            return ""
        cut = self._first_match(held)
        if cut >= 0:
            self.stopped = True
            return held[:cut]
        return held

    def _first_match(self, text: str) -> int:
        return min((i for i in (text.find(stop) for stop in self._stops) if i >= 0), default=-1)


def _overlap(text: str, stop: str) -> int:
    """The length of the longest end of ``text`` that begins ``stop``."""
    for length in range(min(len(text), len(stop) - 1), 0, -1):
        if stop.startswith(text[-length:]):
            return length
    return 0
