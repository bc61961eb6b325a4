"""The diagnosis as lines of text, or as one JSON object for a bug report.

Both go through :func:`_scrubbed`: cookie values and the proxy's password are replaced wherever
they appear (an error message that quotes a URL, a header), on top of the checks never putting
them in.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from langchain_cloudflare_playground.doctor.records import Check, Diagnosis

__all__ = ["as_json", "as_text"]

_HIDDEN = "***"
# The report never prints a cookie value; scrubbing catches one an error message echoed. A value
# of a few characters ("1", "yes") is no secret, and replacing it everywhere would garble the
# report (every "1" of every address and time).
_SHORTEST_SECRET = 4


def _scrubbed(value: object, secrets: Iterable[str]) -> object:
    """``value`` with every secret in every string replaced (dicts and lists walked)."""
    if isinstance(value, str):
        for secret in sorted(secrets, key=len, reverse=True):  # a longer one may hold a shorter
            if len(secret) >= _SHORTEST_SECRET:
                value = value.replace(secret, _HIDDEN)
        return value
    if isinstance(value, dict):
        return {key: _scrubbed(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrubbed(item, secrets) for item in value]
    return value


def _took(check: Check) -> str:
    if check.seconds is None:
        return ""
    return f"{check.seconds * 1000:.0f} ms" if check.seconds < 1 else f"{check.seconds:.2f} s"


def as_text(diagnosis: Diagnosis) -> str:
    """One line per check (verdict, name, time, why), then the advice."""
    about = diagnosis.about
    heading = (
        f"cf-playground doctor: {diagnosis.base_url}"
        f" (cloudflare-playground {about.get('package')}, Python {about.get('python')},"
        f" transport {about.get('transport')})"
    )
    lines = [heading]
    lines += [
        f"{check.verdict:<8} {check.name:<25} {_took(check):>8}  {check.why}"
        for check in diagnosis.checks
    ]
    lines += [f"log: {message}" for message in diagnosis.log]
    lines.append(f"advice: {diagnosis.advice}")
    scrubbed = _scrubbed("\n".join(lines), diagnosis.secrets)
    return str(scrubbed)


def as_json(diagnosis: Diagnosis) -> str:
    """The whole diagnosis as one JSON object."""
    payload = {
        "base_url": diagnosis.base_url,
        "about": dict(diagnosis.about),
        "checks": [
            {
                "name": check.name,
                "verdict": check.verdict,
                "why": check.why,
                "seconds": None if check.seconds is None else round(check.seconds, 3),
                "facts": dict(check.facts),
                "advice": check.advice,
            }
            for check in diagnosis.checks
        ],
        "log": list(diagnosis.log),
        "chat_worked": diagnosis.chat_worked,
        "advice": diagnosis.advice,
    }
    return json.dumps(_scrubbed(payload, diagnosis.secrets), indent=2)
