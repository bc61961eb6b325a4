"""Streaming a reply that may turn out to be a tool call: prose flows, possible calls wait.

Text before anything that could open a call (``{``, ``[{``, a code fence, a ``<tool_call>`` tag)
goes to the caller as it arrives; from there on the text is held until the reply ends and the
parser decides. A false alarm (a brace in prose) only delays the rest of the text; it is never
lost or changed.
"""

from __future__ import annotations

import re

__all__ = ["ProseSplitter"]

_CALL_OPENING = re.compile(r"```|<tool_call|\{|\[\s*\{")
# Endings that may be the first characters of an opening, completed by the next delta. A "["
# waits through a little whitespace only: held without bound, a long run would be searched again
# on every delta.
_PARTIAL_OPENING = re.compile(r"(`{1,2}|<(t(o(o(l(_(c(a(l)?)?)?)?)?)?)?)?|\[\s{0,64})\Z")


class ProseSplitter:
    """Feed deltas in, take out what is safe to show now; :meth:`held` has the rest."""

    def __init__(self, *, hold_everything: bool = False) -> None:
        """Start a reply; with ``hold_everything`` nothing is shown before it ends."""
        self._pending = ""
        self._holding = hold_everything
        self._held: list[str] = []

    @property
    def holding(self) -> bool:
        """Whether a possible call has begun (everything after it is held)."""
        return self._holding

    def feed(self, text: str) -> str:
        """The part of what arrived so far that is plain prose, not yet returned."""
        if self._holding:
            self._held.append(text)
            return ""
        pending = self._pending + text
        opening = _CALL_OPENING.search(pending)
        if opening is not None:
            self._holding = True
            self._pending = ""
            self._held.append(pending[opening.start() :])
            return pending[: opening.start()]
        partial = _PARTIAL_OPENING.search(pending)
        cut = partial.start() if partial is not None else len(pending)
        self._pending = pending[cut:]
        return pending[:cut]

    def held(self) -> str:
        """Everything not returned by :meth:`feed`, once the reply has ended."""
        return "".join(self._held) + self._pending
