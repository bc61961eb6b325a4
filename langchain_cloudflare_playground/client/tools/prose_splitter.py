"""Streaming a reply that may turn out to be a tool call: prose flows, possible calls wait.

Text before anything that could open a call (``{``, ``[{``, ``[name(``, ``call:name{``, a code
fence, a ``<tool_call>`` tag, or any native format's opening in ``native_formats.OPENINGS``) goes
to the caller as it arrives; from there on the text is held until the reply ends and the parser
decides.
A false alarm (a brace in prose) only delays the rest of the text; it is never lost or changed.
"""

from __future__ import annotations

import re

from langchain_cloudflare_playground.client.tools.native_formats import OPENINGS

__all__ = ["CALL_OPENING", "ProseSplitter"]

_LITERAL_OPENINGS = ("```", "<tool_call", *OPENINGS)
# A bracket opens JSON (``[{``) or Python calls (``[get_weather(``, Llama 3.2/4); ``call:name{``
# is Gemma 4's call once a server has dropped its special tokens (a word alone is no opening).
CALL_OPENING = re.compile(
    r"\{|\[\s*\{|\[\s*[A-Za-z_]\w*\(|call:[\w.-]{1,64}\{|"
    + "|".join(re.escape(opening) for opening in sorted(_LITERAL_OPENINGS, key=len, reverse=True))
)
# The end of a delta that may be a bracket or ``call:`` opening, completed by the next delta. It
# waits through a little whitespace and one word only: held without bound, a long run would be
# searched again on every delta.
_PARTIAL_PATTERN = re.compile(
    r"(?:\[\s{0,64}(?:[A-Za-z_]\w{0,63})?|c(?:a(?:l(?:l(?::[\w.-]{0,64})?)?)?)?)\Z"
)
_LONGEST_LITERAL = max(len(opening) for opening in _LITERAL_OPENINGS)


def _partial_start(text: str) -> int:
    """Where the unfinished opening at the end of ``text`` starts (``len(text)`` if none)."""
    tail_start = max(0, len(text) - _LONGEST_LITERAL)
    for start in range(tail_start, len(text)):
        tail = text[start:]
        if any(opening.startswith(tail) for opening in _LITERAL_OPENINGS):
            literal = start
            break
    else:
        literal = len(text)
    window = max(0, len(text) - 130)
    partial = _PARTIAL_PATTERN.search(text, window)
    return min(literal, partial.start() if partial is not None else len(text))


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
        opening = CALL_OPENING.search(pending)
        if opening is not None:
            self._holding = True
            self._pending = ""
            self._held.append(pending[opening.start() :])
            return pending[: opening.start()]
        cut = _partial_start(pending)
        self._pending = pending[cut:]
        return pending[:cut]

    def held(self) -> str:
        """Everything not returned by :meth:`feed`, once the reply has ended."""
        return "".join(self._held) + self._pending
