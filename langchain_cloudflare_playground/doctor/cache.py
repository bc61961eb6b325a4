"""The session cache check: where the file is, who may read it, how old it is, what it holds.

It reads the file as it is found, before the doctor's own chat touches it. Cookie names are
reported, never their values (the values are handed back separately, only so that the report
can scrub them from everything it prints).
"""

from __future__ import annotations

import json
import stat
import time
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.client.sessions import SessionCache
from langchain_cloudflare_playground.doctor.records import CACHE, Check

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["cache_check"]

_OTHERS = 0o077  # the group's and other users' permission bits
_CLEAR = "remove it: `cf-playground session clear` (a fresh session is fetched on the next run)"


def _when(moment: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(moment))


def cache_check(  # noqa: PLR0911 (one return per state the file can be in)
    base_url: str, path: Path | None = None
) -> tuple[Check, frozenset[str]]:
    """The cache's state for ``base_url``, and the cookie values it holds (to scrub)."""
    start = time.monotonic()
    cache = SessionCache(path)
    facts: dict[str, object] = {"path": str(cache.path)}

    def done(verdict: str, why: str, advice: str | None = None) -> Check:
        return Check(
            CACHE,
            verdict,  # type: ignore[arg-type]
            why,
            time.monotonic() - start,
            facts,
            advice,
        )

    try:
        info = cache.path.stat()
    except FileNotFoundError:
        return done("ok", f"no cache file yet ({cache.path})"), frozenset()
    except OSError as exc:
        return done("failed", f"{cache.path} cannot be read ({exc.strerror})", _CLEAR), frozenset()
    mode = stat.S_IMODE(info.st_mode)
    facts.update(
        mode=f"{mode:04o}",
        private=not mode & _OTHERS,
        age_seconds=round(time.time() - info.st_mtime),
    )
    try:
        document = json.loads(cache.path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not JSON"
        return done(
            "failed", f"{cache.path} is unreadable ({why}); the client ignores it", _CLEAR
        ), frozenset()
    if not isinstance(document, dict) or not isinstance(document.get("sessions"), dict):
        return done(
            "failed", f"{cache.path} has an unknown layout; the client ignores it", _CLEAR
        ), frozenset()
    entries, remembered = cache.entries(), cache.transports()
    secrets = frozenset(
        value for session in entries.values() for value in session.cookies.values() if value
    )
    session = entries.get(base_url)
    rung = remembered.get(base_url)
    age = f"{cache.path}, mode {mode:04o}, {facts['age_seconds']} s old"
    if rung is not None:
        facts["transport"] = {"rung": rung.rung, "until": _when(rung.until)}
        age += f"; remembers the {rung.rung} rung" + (" (expired)" if rung.is_expired() else "")
    if session is None:
        return done("ok", f"{age}; no session for {base_url}"), secrets
    expires = session.expires_at
    facts["session"] = {
        "source": session.source,
        "cookies": sorted(session.cookies),  # names only
        "expires": None if expires is None else _when(expires),
        "expired": session.is_expired(),
    }
    names = ", ".join(sorted(session.cookies)) or "no cookies"
    if session.is_expired():
        return done(
            "failed",
            f"{age}; the {session.source} session ({names}) is stale: it expired"
            f" {_when(expires or 0)}",
            "get a fresh session: `cf-playground session refresh` (or `session clear`)",
        ), secrets
    until = "the browser closes" if expires is None else _when(expires)
    return done("ok", f"{age}; a {session.source} session ({names}) until {until}"), secrets
