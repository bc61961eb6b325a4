"""Hypothesis settings and strategies the property tests share.

Runs are derandomized and use no example database, so CI sees the same examples every time.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Reproducible in CI: the same examples on every run, nothing remembered between runs.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
)
SHORT = settings(FUZZ, max_examples=40)


# --- Strategies --------------------------------------------------------------------------------

# Characters that have broken stream decoders before: JSON escapes, every line break, multi-byte
# and non-BMP characters, Unicode separators JSON carries unescaped, and text that looks like
# markup of one wire format or the other.
TRICKY = [
    '"',
    "\\",
    "\\n",
    "\n",
    "\r",
    "\r\n",
    "\t",
    "\x00",
    "\x1f",
    "\x7f",
    "\x85",
    "\u2028",
    "\u2029",
    "\ufeff",
    "é",
    "世界",
    "👋",
    "🏳️‍🌈",
    "\U0010ffff",
    " ",
    "</s>",
    "data: [DONE]",
    '0:"x"',
    'd:{"finishReason":"stop"}',
    "{",
    "}",
    "[",
    "]",
    "'",
    ":",
]
tricky_text = st.lists(st.sampled_from(TRICKY) | st.text(max_size=4), max_size=5).map("".join)
deltas = st.text(max_size=12) | tricky_text
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | deltas
)


# --- Deep nesting ------------------------------------------------------------------------------

DEEP = 100_000


def nested(depth: int, opener: str = "[") -> str:
    closer = {"[": "]", "{": "}", '{"a":': "}"}[opener]
    return opener * depth + ("0" if opener == '{"a":' else "") + closer * depth


@dataclass(frozen=True)
class Nesting:
    """JSON nested ``depth`` deep (closed or not), kept small so failing examples print short."""

    depth: int
    opener: str
    closed: bool

    @property
    def text(self) -> str:
        return nested(self.depth, self.opener) if self.closed else self.opener * self.depth


# Depths around the interpreter's recursion limit, where json.loads starts to fail. The model
# text readers scan in Python, so they get the very deep inputs in the tests after these only.
nesting_depths = st.integers(min_value=900, max_value=1100) | st.just(5_000)
