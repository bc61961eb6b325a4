"""The session cache: one JSON file in the user's cache folder, private and replaced atomically.

Nothing a user had is lost to a bad file: a corrupt or unreadable cache is logged and treated as
empty, then replaced by the next write. A file that cannot be written leaves the client working
without a cache.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from langchain_cloudflare_playground.client.sessions.args import SessionArgs

try:
    import fcntl
except ImportError:  # Windows: the atomic rename still keeps the file whole
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["SessionCache", "default_cache_path"]

logger = logging.getLogger("langchain_cloudflare_playground")

_FORMAT_VERSION = 1
_CACHE_DIR_ENV = "CF_PLAYGROUND_CACHE_DIR"


def default_cache_path() -> Path:
    """``$CF_PLAYGROUND_CACHE_DIR/session.json``, else the platform's user cache folder."""
    folder = os.environ.get(_CACHE_DIR_ENV)
    if not folder:
        import platformdirs  # noqa: PLC0415 (only needed when no folder is given)

        folder = platformdirs.user_cache_dir("cloudflare-playground", appauthor=False)
    return Path(folder) / "session.json"


class SessionCache:
    """Session args per base URL, in one file with mode 0600."""

    def __init__(self, path: Path | str | None = None) -> None:
        """Use ``path``, or the default location when ``None``."""
        self.path = Path(path) if path is not None else default_cache_path()

    def __repr__(self) -> str:
        """Name the file, not its contents."""
        return f"SessionCache(path={str(self.path)!r})"

    def load(self, base_url: str) -> SessionArgs | None:
        """The cached args for ``base_url``, or ``None`` if absent, expired or unreadable."""
        entry = self._read_all().get(base_url)
        if entry is None:
            return None
        args = _args_from_json(entry)
        if args is None:
            logger.warning("Ignoring a malformed session cache entry in %s", self.path)
            return None
        if args.is_expired():
            return None
        return args

    def save(self, base_url: str, args: SessionArgs) -> bool:
        """Store ``args`` for ``base_url``; ``False`` (and a log line) if it cannot be written."""
        with self._exclusive():
            sessions = self._read_all()
            sessions[base_url] = _args_to_json(args)
            return self._write_all(sessions)

    def clear(self, base_url: str | None = None) -> bool:
        """Forget one base URL's session, or every session when ``base_url`` is ``None``."""
        if base_url is None:
            try:
                self.path.unlink()
            except FileNotFoundError:
                return True
            except OSError as exc:
                logger.warning("Could not remove the session cache %s: %s", self.path, exc)
                return False
            return True
        with self._exclusive():
            sessions = self._read_all()
            if sessions.pop(base_url, None) is None:
                return True
            return self._write_all(sessions)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the cache's lock file while updating it.

        The atomic rename keeps the file whole; the lock keeps two processes that update it at
        once from losing each other's entries.
        """
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            yield  # no lock to be had; the write itself reports what is wrong
            return
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def entries(self) -> dict[str, SessionArgs]:
        """Every readable cached session, expired ones included, by base URL."""
        found: dict[str, SessionArgs] = {}
        for base_url, entry in self._read_all().items():
            args = _args_from_json(entry)
            if args is not None:
                found[base_url] = args
        return found

    def _read_all(self) -> dict[str, Any]:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            logger.warning("Cannot read the session cache %s (%s); starting afresh", self.path, exc)
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            logger.warning("The session cache %s is corrupt; it will be replaced", self.path)
            return {}
        sessions = data.get("sessions") if isinstance(data, dict) else None
        if not isinstance(sessions, dict):
            logger.warning(
                "The session cache %s has an unknown layout; it will be replaced", self.path
            )
            return {}
        return sessions

    def _write_all(self, sessions: dict[str, Any]) -> bool:
        payload = json.dumps({"version": _FORMAT_VERSION, "sessions": sessions}, indent=1)
        temp_path: str | None = None
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Written beside the target and renamed over it, so a reader (another process) sees
            # the old file or the new one, never half of one. mkstemp creates it 0600.
            fd, temp_path = tempfile.mkstemp(
                prefix=".session-", suffix=".tmp", dir=self.path.parent
            )
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            Path(temp_path).replace(self.path)
            temp_path = None
        except OSError as exc:
            logger.warning("Could not write the session cache %s: %s", self.path, exc)
            return False
        finally:
            if temp_path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp_path)  # noqa: PTH108
        return True


def _args_to_json(args: SessionArgs) -> dict[str, Any]:
    return {
        "user_agent": args.user_agent,
        "headers": dict(args.headers),
        "cookies": dict(args.cookies),
        "cookie_expiries": dict(args.cookie_expiries),
        "source": args.source,
    }


def _args_from_json(entry: object) -> SessionArgs | None:
    if not isinstance(entry, dict):
        return None
    user_agent, headers = entry.get("user_agent"), entry.get("headers")
    cookies, expiries = entry.get("cookies"), entry.get("cookie_expiries", {})
    source = entry.get("source", "defaults")
    if not (
        isinstance(user_agent, str)
        and isinstance(headers, dict)
        and isinstance(cookies, dict)
        and isinstance(expiries, dict)
        and all(isinstance(v, str) for v in (*headers.values(), *cookies.values()))
        and all(isinstance(v, (int, float)) for v in expiries.values())
        and isinstance(source, str)
    ):
        return None
    return SessionArgs(
        user_agent=user_agent,
        headers=MappingProxyType(headers),
        cookies=MappingProxyType(cookies),
        cookie_expiries=MappingProxyType(expiries),
        source=source,
    )
