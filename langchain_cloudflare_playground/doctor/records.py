"""What the doctor's checks return: a verdict, why, how long it took, and what to do next."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["CACHE", "CHAT", "UPDATE_ADVICE", "Check", "Diagnosis", "Verdict"]

# ok: the layer works. refused: the site (or its edge) said no, as it may to one rung and not to
# the next. failed: something broke. skipped: not checked, and why.
Verdict = Literal["ok", "refused", "failed", "skipped"]
CHAT = "chat"  # the check whose verdict decides the exit status
CACHE = "session cache"
# The package is not on PyPI: an update comes from the repository it was installed from.
UPDATE_ADVICE = (
    "it may have changed: update this package from its repository (git pull in your checkout,"
    " then pip install '.[all]'); if that does not help, file an issue with the output of"
    " `cf-playground doctor --json`"
)


@dataclass(frozen=True)
class Check:
    """One check's outcome.

    Attributes:
        name: What was checked ("tls", "websocket via direct", "chat"...).
        verdict: ``ok``, ``refused``, ``failed`` or ``skipped``.
        why: One line: what was seen.
        seconds: How long the check took (``None`` when skipped).
        facts: What a bug report needs (JSON values; never a secret).
        advice: What to do when this is the first failure.
    """

    name: str
    verdict: Verdict
    why: str
    seconds: float | None = None
    facts: Mapping[str, object] = field(default_factory=dict)
    advice: str | None = None

    @property
    def is_problem(self) -> bool:
        """Whether the check was refused or failed."""
        return self.verdict in ("refused", "failed")


@dataclass(frozen=True)
class Diagnosis:
    """Every check, in order, and what they add up to.

    Attributes:
        base_url: The playground checked.
        checks: The checks, in the order they ran.
        about: The package, Python and options used (JSON values; no secret).
        log: The client's warnings during the run.
        secrets: Strings that must never be shown (cookie values, the proxy's password); the
            report scrubs them from everything it prints.
    """

    base_url: str
    checks: tuple[Check, ...]
    about: Mapping[str, object] = field(default_factory=dict)
    log: tuple[str, ...] = ()
    secrets: frozenset[str] = field(default=frozenset(), repr=False)

    @property
    def chat_worked(self) -> bool:
        """Whether the chat check passed (the exit status: 0 when it did)."""
        return any(check.name == CHAT and check.verdict == "ok" for check in self.checks)

    @property
    def first_problem(self) -> Check | None:
        """The failure the advice is about.

        A refusal that a later check got past needs nothing done: a rung the edge turns away
        below one it lets in, a page that is a challenge to the direct rung when another gets
        through, a missing Agents route when HTTP answers. The session cache, checked last,
        gets past nothing.
        """
        checks = self.checks
        for at, check in enumerate(checks):
            if check.verdict == "failed":
                return check
            if check.verdict == "refused" and not any(
                later.verdict == "ok" and later.name != CACHE for later in checks[at + 1 :]
            ):
                return check
        return None

    @property
    def advice(self) -> str:
        """One line: what to do about the first failure, or that nothing needs doing."""
        problem = self.first_problem
        if problem is None:
            return "nothing to do: a chat works" if self.chat_worked else "no advice"
        todo = (
            problem.advice or f"check the URL (--base-url); if it is the live site, {UPDATE_ADVICE}"
        )
        return f"{problem.name}: {todo}"
