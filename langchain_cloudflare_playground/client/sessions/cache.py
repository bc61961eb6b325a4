"""The session cache: one JSON file in the user's cache folder, private and replaced atomically.

The file is 0600 in a folder only the user can open (0700): its cookies let anyone who reads them
act as the user's browser. A file or folder that other users can read (a file an editor saved
0644, a folder made by hand) is made private, with a warning; a file that cannot be made private
is not used.

Nothing a user had is lost to a bad file: a corrupt or unreadable cache is logged and treated as
empty, then replaced by the next write. A file that cannot be written leaves the client working
without a cache.

Besides sessions, the file remembers per site what the client learned of it: the transport rung
that got in, and how its rooms take their settings (:class:`SettingsWay`). Every write leaves out
the entries that have expired (other than the one it writes), so entries for sites no longer
used, such as local playgrounds on ports of runs long gone, do not pile up.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from langchain_cloudflare_playground.client.sessions.site_session import SiteSession
from langchain_cloudflare_playground.client.transport_ladder import (
    REMEMBER_SECONDS,
    RUNGS,
    Rung,
)
from langchain_cloudflare_playground.client.wire_formats.agents_frames import SettingsWay

try:
    import fcntl
except ImportError:  # Windows: the atomic rename still keeps the file whole
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "RememberedSettingsWay",
    "RememberedTransport",
    "SessionCache",
    "default_cache_path",
]

logger = logging.getLogger("langchain_cloudflare_playground")

_FORMAT_VERSION = 1
_CACHE_DIR_ENV = "CF_PLAYGROUND_CACHE_DIR"
_OTHERS = 0o077  # the group's and other users' permission bits
_POSIX = os.name == "posix"  # elsewhere, permission bits do not say who may read a file


def default_cache_path() -> Path:
    """``$CF_PLAYGROUND_CACHE_DIR/session.json``, else the platform's user cache folder."""
    folder = os.environ.get(_CACHE_DIR_ENV)
    if not folder:
        import platformdirs  # noqa: PLC0415 (only needed when no folder is given)

        folder = platformdirs.user_cache_dir("cloudflare-playground", appauthor=False)
    return Path(folder) / "session.json"


class SessionCache:
    """Site sessions per base URL, in one file with mode 0600."""

    def __init__(self, path: Path | str | None = None) -> None:
        """Use ``path``, or the default location when ``None``."""
        self.path = Path(path) if path is not None else default_cache_path()
        self._folder_checked = False  # the folder's permissions, checked once per cache

    def __repr__(self) -> str:
        """Name the file, not its contents."""
        return f"SessionCache(path={str(self.path)!r})"

    def load(self, base_url: str) -> SiteSession | None:
        """The cached session for ``base_url``, or ``None`` if absent, expired or unreadable."""
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

    def save(self, base_url: str, args: SiteSession) -> bool:
        """Store ``args`` for ``base_url``; ``False`` (and a log line) if it cannot be written."""
        with self._exclusive():
            document = self._read_document()
            document["sessions"][base_url] = _args_to_json(args)
            return self._write_document(document, keep=("sessions", base_url))

    def load_transport(self, base_url: str) -> RememberedTransport | None:
        """The transport rung remembered for ``base_url``, or ``None`` if absent or expired."""
        remembered = self.transports().get(base_url)
        return None if remembered is None or remembered.is_expired() else remembered

    def save_transport(
        self, base_url: str, rung: Rung, *, seconds: float = REMEMBER_SECONDS
    ) -> bool:
        """Remember for ``seconds`` that ``rung`` of the transport ladder works for ``base_url``."""
        with self._exclusive():
            document = self._read_document()
            document["transports"][base_url] = {"rung": rung, "until": time.time() + seconds}
            return self._write_document(document, keep=("transports", base_url))

    def load_settings_way(self, base_url: str) -> SettingsWay | None:
        """How ``base_url``'s rooms take their settings, if remembered and not expired."""
        entry = self._read_document()["settings_ways"].get(base_url)
        remembered = _way_from_json(entry)
        return None if remembered is None or remembered.is_expired() else remembered.way

    def save_settings_way(
        self, base_url: str, way: SettingsWay, *, seconds: float = REMEMBER_SECONDS
    ) -> bool:
        """Remember for ``seconds`` how ``base_url``'s rooms take their settings."""
        with self._exclusive():
            document = self._read_document()
            entry = {**way.to_json(), "until": time.time() + seconds}
            document["settings_ways"][base_url] = entry
            return self._write_document(document, keep=("settings_ways", base_url))

    def forget_settings_way(self, base_url: str) -> bool:
        """Forget how ``base_url``'s rooms take their settings (they stopped taking them so)."""
        with self._exclusive():
            document = self._read_document()
            if document["settings_ways"].pop(base_url, None) is None:
                return True
            return self._write_document(document)

    def settings_ways(self) -> dict[str, RememberedSettingsWay]:
        """Every readable remembered way of taking settings, expired ones included, by base URL."""
        found: dict[str, RememberedSettingsWay] = {}
        for base_url, entry in self._read_document()["settings_ways"].items():
            remembered = _way_from_json(entry)
            if remembered is not None:
                found[base_url] = remembered
        return found

    def transports(self) -> dict[str, RememberedTransport]:
        """Every readable remembered transport rung, expired ones included, by base URL."""
        found: dict[str, RememberedTransport] = {}
        for base_url, entry in self._read_document()["transports"].items():
            remembered = _transport_from_json(entry)
            if remembered is not None:
                found[base_url] = remembered
        return found

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
            document = self._read_document()
            found = [part.pop(base_url, None) is not None for part in document.values()]
            if not any(found):
                return True
            return self._write_document(document)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the cache's lock file while updating it.

        The atomic rename keeps the file whole; the lock keeps two processes that update it at
        once from losing each other's entries.
        """
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            self._make_folder()
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

    def entries(self) -> dict[str, SiteSession]:
        """Every readable cached session, expired ones included, by base URL."""
        found: dict[str, SiteSession] = {}
        for base_url, entry in self._read_all().items():
            args = _args_from_json(entry)
            if args is not None:
                found[base_url] = args
        return found

    def _make_folder(self) -> None:
        """Create the cache's folder, 0700, and make sure it is private."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._check_folder()

    def _check_folder(self) -> None:
        """Close a folder open to other users, if it is the user's own; warn if it cannot be."""
        if self._folder_checked or not _POSIX:
            return
        folder = self.path.parent
        try:
            info = folder.stat()
        except OSError:
            return  # not there yet: it is created 0700
        self._folder_checked = True
        mode = stat.S_IMODE(info.st_mode)
        if not mode & _OTHERS:
            return
        if info.st_uid != os.getuid() or not self._holds_only_the_cache(folder):
            # Someone else's folder, or a shared one (a home folder given as the cache folder):
            # not ours to close. The file itself is 0600 all the same.
            logger.warning(
                "The session cache folder %s is open to other users (mode %04o) and holds more"
                " than the cache, or is not yours; the cache file is private, but set %s to a"
                " folder of its own",
                folder,
                mode,
                _CACHE_DIR_ENV,
            )
            return
        try:
            folder.chmod(mode & ~_OTHERS)
        except OSError as exc:
            logger.warning(
                "The session cache folder %s is open to other users (mode %04o) and could not be"
                " made private: %s",
                folder,
                mode,
                exc,
            )
            return
        logger.warning(
            "The session cache folder %s was open to other users (mode %04o); made it %04o",
            folder,
            mode,
            mode & ~_OTHERS,
        )

    def _holds_only_the_cache(self, folder: Path) -> bool:
        """Whether ``folder`` holds nothing but this cache's file, lock and temporary files."""
        ours = (self.path.name, ".session-")
        try:
            return all(entry.name.startswith(ours) for entry in folder.iterdir())
        except OSError:
            return False

    def _read_bytes(self) -> bytes | None:
        """The file's bytes, made private first; ``None`` if it is absent or must not be used."""
        self._check_folder()
        try:
            with self.path.open("rb") as handle:
                if not self._made_private(handle.fileno()):
                    return None
                return handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("Cannot read the session cache %s (%s); starting afresh", self.path, exc)
            return None

    def _made_private(self, fd: int) -> bool:
        """Whether the open file is private now: a file others can read is tightened to 0600.

        Checked on the open file, so the file judged is the file read.
        """
        info = os.fstat(fd)
        mode = stat.S_IMODE(info.st_mode)
        if not _POSIX or not stat.S_ISREG(info.st_mode) or not mode & _OTHERS:
            return True
        private = mode & 0o600
        try:
            os.fchmod(fd, private)
        except OSError as exc:
            logger.warning(
                "The session cache %s can be read by other users (mode %04o) and could not be"
                " made private (%s); not using it",
                self.path,
                mode,
                exc,
            )
            return False
        logger.warning(
            "The session cache %s could be read by other users (mode %04o); made it %04o",
            self.path,
            mode,
            private,
        )
        return True

    def _read_all(self) -> dict[str, Any]:
        return self._read_document()["sessions"]

    def _read_document(self) -> dict[str, dict[str, Any]]:
        """The file's sessions and remembered transport rungs, each a dict by base URL."""
        empty: dict[str, dict[str, Any]] = {"sessions": {}, "transports": {}, "settings_ways": {}}
        content = self._read_bytes()
        if content is None:
            return empty
        try:
            raw = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            logger.warning("Cannot read the session cache %s (%s); starting afresh", self.path, exc)
            return empty
        try:
            data = json.loads(raw)
        except ValueError:
            logger.warning("The session cache %s is corrupt; it will be replaced", self.path)
            return empty
        sessions = data.get("sessions") if isinstance(data, dict) else None
        if not isinstance(sessions, dict):
            logger.warning(
                "The session cache %s has an unknown layout; it will be replaced", self.path
            )
            return empty
        document: dict[str, dict[str, Any]] = {"sessions": sessions}
        for part in ("transports", "settings_ways"):  # absent from files of earlier versions
            entries = data.get(part, {})
            document[part] = entries if isinstance(entries, dict) else {}
        return document

    def _write_document(
        self, document: dict[str, dict[str, Any]], *, keep: tuple[str, str] | None = None
    ) -> bool:
        """Write ``document`` less its expired entries; ``keep`` (part, base URL) stays as given."""
        payload = json.dumps(
            {"version": _FORMAT_VERSION, **_without_expired(document, keep=keep)}, indent=1
        )
        temp_path: str | None = None
        try:
            self._make_folder()
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


@dataclass(frozen=True, slots=True)
class RememberedTransport:
    """The transport rung that last worked for a site, and until when it is trusted."""

    rung: Rung
    until: float

    def is_expired(self, now: float | None = None) -> bool:
        """Whether the memory is too old to start on."""
        return (time.time() if now is None else now) >= self.until


def _without_expired(
    document: dict[str, dict[str, Any]],
    *,
    keep: tuple[str, str] | None = None,
    now: float | None = None,
) -> dict[str, dict[str, Any]]:
    """``document`` less the sessions and transport rungs that have expired, but for ``keep``.

    Entries this version cannot read are kept: they are not known to have expired.
    """
    current = time.time() if now is None else now
    readers = {
        "sessions": _args_from_json,
        "transports": _transport_from_json,
        "settings_ways": _way_from_json,
    }
    pruned: dict[str, dict[str, Any]] = {}
    for part, entries in document.items():
        read = readers.get(part)
        pruned[part] = {}
        for base_url, entry in entries.items():
            known = read(entry) if read is not None else None
            if known is None or not known.is_expired(current) or keep == (part, base_url):
                pruned[part][base_url] = entry
    return pruned


def _transport_from_json(entry: object) -> RememberedTransport | None:
    if (
        isinstance(entry, dict)
        and entry.get("rung") in RUNGS
        and isinstance(entry.get("until"), (int, float))
    ):
        return RememberedTransport(entry["rung"], float(entry["until"]))
    return None


@dataclass(frozen=True, slots=True)
class RememberedSettingsWay:
    """How a site's rooms take their settings, and until when that is trusted."""

    way: SettingsWay
    until: float

    def is_expired(self, now: float | None = None) -> bool:
        """Whether the memory is too old to go by."""
        return (time.time() if now is None else now) >= self.until


def _way_from_json(entry: object) -> RememberedSettingsWay | None:
    way = SettingsWay.from_json(entry)
    if way is None or not isinstance(entry, dict):
        return None
    until = entry.get("until")
    if not isinstance(until, (int, float)) or isinstance(until, bool):
        return None
    return RememberedSettingsWay(way, float(until))


def _args_to_json(args: SiteSession) -> dict[str, Any]:
    return {
        "user_agent": args.user_agent,
        "headers": dict(args.headers),
        "cookies": dict(args.cookies),
        "cookie_expiries": dict(args.cookie_expiries),
        "source": args.source,
    }


def _args_from_json(entry: object) -> SiteSession | None:
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
    return SiteSession(
        user_agent=user_agent,
        headers=MappingProxyType(headers),
        cookies=MappingProxyType(cookies),
        cookie_expiries=MappingProxyType(expiries),
        source=source,
    )
