"""The transport ladder: which rung carries the next try, and what was tried when all refuse.

Cloudflare's edge refuses clients whose TLS handshake is not a browser's. The rungs, cheapest
first:

- ``direct``: aiohttp, Python's own TLS (milliseconds, no extra dependency);
- ``impersonate``: curl_cffi, a TLS and HTTP/2 handshake like Chrome's (the ``impersonate``
  extra);
- ``browser``: WebSockets opened inside a real Chromium page and relayed (the ``browser`` extra
  and Chromium; seconds to start, hundreds of megabytes).

``transport="auto"`` starts on the lowest rung (or the one remembered for the site) and climbs
one rung per refusal; a rung whose extra or browser is missing is skipped. A pinned transport
(``"direct"``, ``"impersonate"``, ``"browser"``) is a ladder of one rung. This module only keeps
the state; the router builds the transports and the retrier decides when to climb.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, cast

from langchain_cloudflare_playground.client.errors import ChallengeError, PlaygroundError
from langchain_cloudflare_playground.client.extras import DISTRIBUTION, is_installed

__all__ = ["REMEMBER_SECONDS", "RUNGS", "Rung", "TransportLadder", "impersonation_available"]

Rung = Literal["direct", "impersonate", "browser"]
RUNGS: tuple[Rung, ...] = ("direct", "impersonate", "browser")
# How long the rung that worked is remembered for a site: long enough that every process of a
# working day starts on it, short enough that a site that relents is tried directly again.
REMEMBER_SECONDS = 24 * 3600.0

_WHAT = {
    "direct": "direct (aiohttp)",
    "impersonate": "impersonating Chrome (curl_cffi)",
    "browser": "browser relay (Chromium)",
}
_MISSING = {
    "impersonate": f'pip install "{DISTRIBUTION}[impersonate]"',
    "browser": (
        f'pip install "{DISTRIBUTION}[browser]" and install Chromium (or set CHROME_PATH);'
        " if the browser is forbidden, allow it (browser=None, CF_PLAYGROUND_BROWSER unset)"
    ),
}


def impersonation_available() -> bool:
    """Whether curl_cffi, which the impersonating rung needs, is installed."""
    return is_installed("curl_cffi")


@dataclass
class TransportLadder:
    """The rungs one client may use, the one it is on, and every refusal on the way up.

    Args:
        rungs: The usable rungs, lowest first (one, for a pinned transport).
        missing: Rungs of the full ladder left out because something is not installed or not
            allowed, with what would add them.
        start: The rung to start on (one remembered for the site), if it is among ``rungs``.
    """

    rungs: tuple[Rung, ...]
    missing: dict[Rung, str] = field(default_factory=dict)
    start: Rung | None = None
    refusals: list[tuple[Rung, str]] = field(default_factory=list, init=False)
    _at: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        """Start on ``start`` when it is usable, else on the lowest rung."""
        if self.start in self.rungs:
            self._at = self.rungs.index(self.start)

    @classmethod
    def for_choice(
        cls, choice: str, *, browser_allowed: bool, remembered: Rung | None = None
    ) -> TransportLadder:
        """The ladder for the ``transport`` option: ``"auto"`` or one pinned rung."""
        if choice != "auto":
            return cls(rungs=(cast("Rung", choice),))  # a valid name: ClientOptions checked it
        available = {
            "direct": True,
            "impersonate": impersonation_available(),
            "browser": browser_allowed,
        }
        return cls(
            rungs=tuple(rung for rung in RUNGS if available[rung]),
            missing={rung: _MISSING[rung] for rung in RUNGS if not available[rung]},
            start=remembered,
        )

    @property
    def current(self) -> Rung:
        """The rung the next try uses."""
        return self.rungs[self._at]

    @property
    def climbs(self) -> bool:
        """Whether this ladder may climb at all (``transport="auto"``)."""
        return len(self.rungs) > 1 or bool(self.missing)

    def next_rung(self) -> Rung | None:
        """The rung above the current one, or ``None`` at the top."""
        return self.rungs[self._at + 1] if self._at + 1 < len(self.rungs) else None

    def climb(self, refusal: PlaygroundError) -> Rung | None:
        """Note ``refusal`` of the current rung and step up; the new rung (``None``: the top)."""
        self.note_refusal(refusal)
        following = self.next_rung()
        if following is not None:
            self._at += 1
        return following

    def note_refusal(self, refusal: PlaygroundError) -> None:
        """Remember that the current rung was refused, and how (for the final error)."""
        self.refusals.append((self.current, _short(refusal)))

    def all_refused(self, last: PlaygroundError) -> ChallengeError:
        """The one error for a site that refused every rung: what was tried, what to do next."""
        if not self.refusals or self.refusals[-1][0] != self.current:
            self.note_refusal(last)
        tried = "; ".join(f"{_WHAT[rung]}: {why}" for rung, why in self.refusals)
        advice = [f"for the {_WHAT[rung]} rung, {todo}" for rung, todo in self.missing.items()]
        if not self.missing:
            advice.append(
                "run `cf-playground session refresh --headful` to pass the challenge by hand,"
                " then try again"
            )
        return ChallengeError(
            f"the playground refused every transport tried ({tried}). Next: {'; '.join(advice)}.",
            status=getattr(last, "status", None),
            retry_after=getattr(last, "retry_after", None),
        )


def _short(error: PlaygroundError) -> str:
    """The first sentence of ``error``: enough to say how a rung was refused."""
    return str(error).partition(". ")[0]
