"""A headless Chromium that always goes away: launched by us, driven over CDP by nodriver.

We start Chromium ourselves, in its own process group with a private profile folder, and let
nodriver attach to its DevTools port. So the process's whole life is ours: however the work ends
(success, error, deadline, cancellation), :meth:`Chromium.stop` ends the group and removes the
profile, and no Chromium process outlives it.

Nothing of it outlives it on disk either: Chromium runs with its home, its XDG folders and its
temporary folder inside the profile (see :func:`chromium_environment`), so removing the profile
removes everything it wrote.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_cloudflare_playground.client.browser.page_trust import chromium_trust_args
from langchain_cloudflare_playground.client.errors import PlaygroundError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import TracebackType
    from typing import Self

__all__ = [
    "INSTALL_ADVICE",
    "PROFILE_PREFIX",
    "BrowserUnavailableError",
    "Chromium",
    "chromium_environment",
    "find_browser",
    "import_nodriver",
    "sweep_stale_profiles",
]

CHROME_PATH_ENV = "CHROME_PATH"
_BROWSER_NAMES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
)
# Chromium's own background traffic only fails (or phones home) here: turn it off.
_QUIET_ARGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-gpu",
    "--password-store=basic",
    "--mute-audio",
)
_STOP_GRACE_SECONDS = 3.0
PROFILE_PREFIX = "cf-playground-chromium-"
# The profile folder also holds the folders Chromium would otherwise write in the user's home.
_PROFILE_HOME = "home"
_PROFILE_TEMP = "tmp"
_PROFILE_RUNTIME = "run"
# A profile with no lock is a browser still starting, or one whose lock went with a clean exit;
# only one older than this is left over.
_UNLOCKED_PROFILE_GRACE_SECONDS = 600.0
INSTALL_ADVICE = (
    'pip install "cloudflare-playground[browser]" for nodriver, and install Chromium'
    " (apt-get install chromium) or Google Chrome, or set CHROME_PATH to its executable"
)


class BrowserUnavailableError(PlaygroundError):
    """No browser session can be had here: nodriver or a browser is missing, or it failed."""


def find_browser(explicit: str | None = None) -> str | None:
    """The browser to use: ``explicit``, then ``$CHROME_PATH``, then the usual names on PATH."""
    for candidate in (explicit, os.environ.get(CHROME_PATH_ENV)):
        if candidate:
            return candidate if Path(candidate).is_file() else shutil.which(candidate)
    for name in _BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def import_nodriver() -> Any:  # noqa: ANN401 (nodriver is untyped)
    """nodriver, imported on first use: it costs a third of a second and most runs need none."""
    try:
        import nodriver  # noqa: PLC0415
    except ImportError as exc:
        msg = f"browser sessions need nodriver: {INSTALL_ADVICE}"
        raise BrowserUnavailableError(msg) from exc
    return nodriver


class Chromium:
    """One Chromium process and the nodriver ``Browser`` attached to it.

    Use as ``async with Chromium(path) as chromium:``; ``chromium.tab`` is its first tab.
    """

    def __init__(
        self,
        executable: str,
        *,
        headless: bool = True,
        deadline: float = 30.0,
        verify: bool | str = True,
    ) -> None:
        """Prepare to run ``executable``; ``deadline`` bounds the start-up.

        Its pages trust the server certificates that ``verify`` trusts (the client's option:
        see ``page_trust`` for how Chromium is told, and what it then accepts).
        """
        self.executable = executable
        self.headless = headless
        self.deadline = deadline
        self.verify = verify
        self.browser: Any = None
        self.tab: Any = None
        self._process: asyncio.subprocess.Process | None = None
        self._profile: str | None = None
        self._kill_at_exit: Callable[[], None] | None = None
        self._crash_handlers_before: set[int] | None = None

    @property
    def alive(self) -> bool:
        """Whether the browser is attached and its process still runs."""
        process = self._process
        return self.browser is not None and process is not None and process.returncode is None

    @property
    def pid(self) -> int | None:
        """The main Chromium process, while it runs."""
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        """Launch Chromium and attach nodriver to it."""
        nodriver = import_nodriver()
        trust = chromium_trust_args(verify=self.verify)  # a bad bundle fails before a launch
        # A process killed before it could stop its browser (SIGKILL, a SIGTERM nobody
        # handled) left its profile behind: the first start after it clears that up.
        sweep_stale_profiles()
        self._profile = tempfile.mkdtemp(prefix=PROFILE_PREFIX)
        environment = chromium_environment(self._profile, headless=self.headless)
        args = [
            self.executable,
            f"--user-data-dir={self._profile}",
            "--remote-debugging-host=127.0.0.1",
            "--remote-debugging-port=0",  # Chromium picks one and writes it to the profile
            *_QUIET_ARGS,
            *trust,
            *(["--headless=new"] if self.headless else []),
            *(["--no-sandbox"] if os.geteuid() == 0 else []),  # Chromium refuses root otherwise
            "about:blank",
        ]
        # Chromium's crash handler leaves the process group (it daemonises); whichever appear
        # while this browser runs are stopped with it.
        self._crash_handlers_before = _crash_handlers()
        try:
            self._process = await asyncio.create_subprocess_exec(
                *args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, so stop() reaches every child
                env=environment,
                cwd=self._profile,  # where the environment's relative TMPDIR points
            )
        except OSError as exc:
            msg = f"cannot start the browser {self.executable!r} ({exc}); {INSTALL_ADVICE}"
            raise BrowserUnavailableError(msg) from exc
        # If the interpreter exits with the browser still running (a client never closed),
        # the browser, in its own process group, must not outlive it.
        self._kill_at_exit = functools.partial(_kill_at_exit, self._process.pid, self._profile)
        atexit.register(self._kill_at_exit)
        port = await self._debugging_port()
        config = nodriver.Config(
            user_data_dir=self._profile,  # ours: nodriver then makes no profile of its own
            host="127.0.0.1",
            port=port,
            browser_executable_path=self.executable,
        )
        try:
            self.browser = await asyncio.wait_for(nodriver.start(config), self.deadline)
        except Exception as exc:
            msg = f"cannot attach to the browser's DevTools port: {exc}"
            raise BrowserUnavailableError(msg) from exc
        self.tab = self.browser.main_tab

    async def _debugging_port(self) -> int:
        assert self._process is not None  # noqa: S101 (start() set it)
        assert self._profile is not None  # noqa: S101
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.deadline
        while True:
            if self._process.returncode is not None:
                msg = (
                    f"the browser {self.executable!r} exited at start-up"
                    f" (code {self._process.returncode})"
                )
                raise BrowserUnavailableError(msg)
            # The file appears before its contents: empty or partial reads mean "not yet".
            with contextlib.suppress(OSError, ValueError, IndexError):
                first_line = port_file.read_text().splitlines()[0]
                return int(first_line)
            if time.monotonic() > deadline:
                msg = f"the browser did not start within {self.deadline:g} s"
                raise BrowserUnavailableError(msg)
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """End every Chromium process of this launch and remove its profile folder.

        Safe to call twice, and safe under cancellation: if this await is cancelled, the
        essentials finish synchronously before the cancellation goes on.
        """
        task = asyncio.ensure_future(self._stop())
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            self._kill_now()
            raise

    async def _stop(self) -> None:
        browser, self.browser, self.tab = self.browser, None, None
        if browser is not None:
            # Close nodriver's own connections first, so its listener tasks end cleanly.
            for connection in [*getattr(browser, "targets", []), browser]:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.aclose(), 1)
            with contextlib.suppress(Exception):
                import_nodriver().util.get_registered_instances().discard(browser)
        process = self._process
        if process is not None and process.returncode is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), _STOP_GRACE_SECONDS)
            except TimeoutError:
                _signal_group(process.pid, signal.SIGKILL)
                await process.wait()
        if process is not None:
            # Children that outlived the main process are still in its group.
            _signal_group(process.pid, signal.SIGKILL)
            await _group_gone(process.pid)
        self._kill_crash_handlers()
        if self._kill_at_exit is not None:
            atexit.unregister(self._kill_at_exit)
            self._kill_at_exit = None
        self._remove_profile()

    def _kill_now(self) -> None:
        if self._process is not None:
            _signal_group(self._process.pid, signal.SIGKILL)
        self._kill_crash_handlers()
        self._remove_profile()

    def _kill_crash_handlers(self) -> None:
        if self._crash_handlers_before is None:
            return
        for pid in _crash_handlers() - self._crash_handlers_before:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self._crash_handlers_before = None

    def _remove_profile(self) -> None:
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    async def __aenter__(self) -> Self:
        """Start; if starting fails, what was started is stopped."""
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop, whatever happened."""
        await self.stop()


def chromium_environment(
    profile: str,
    *,
    headless: bool = True,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment to run Chromium in: ``environ``'s, with the user's folders in ``profile``.

    Chromium writes outside its ``--user-data-dir``: crash reports to
    ``$XDG_CONFIG_HOME/chromium``, NSS's certificate store to ``$XDG_DATA_HOME/pki``, dconf's
    file to ``$XDG_RUNTIME_DIR`` (``$XDG_CACHE_HOME`` when that is unset), and its singleton
    socket to an ``org.chromium.Chromium.*`` folder of ``$TMPDIR``, which it leaves behind when
    stopped by a signal. Here ``HOME``, the XDG folders and ``TMPDIR`` are folders of the
    profile (created here, 0700), so nothing is left once the profile is removed.

    ``TMPDIR`` is relative, ``tmp``, and Chromium must be started with ``profile`` as its
    working folder: a Unix socket's path holds 107 bytes at most, and Chromium aborts at start-up
    on a longer one, which an absolute path into a profile in a deep temporary folder makes.

    A visible browser keeps the user's ``XDG_RUNTIME_DIR`` (Wayland's socket, the session bus)
    and reads the user's ``~/.Xauthority`` when ``XAUTHORITY`` is unset: it needs the display.
    """
    environment = dict(os.environ if environ is None else environ)
    user_home = environment.get("HOME")
    root = Path(profile)
    home = root / _PROFILE_HOME
    runtime = root / _PROFILE_RUNTIME
    for folder in (home, root / _PROFILE_TEMP, runtime):
        folder.mkdir(mode=0o700, exist_ok=True)
    environment.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        TMPDIR=_PROFILE_TEMP,
    )
    if headless:
        environment["XDG_RUNTIME_DIR"] = str(runtime)
    elif user_home and "XAUTHORITY" not in environment:
        xauthority = Path(user_home) / ".Xauthority"
        if xauthority.is_file():
            environment["XAUTHORITY"] = str(xauthority)
    return environment


def sweep_stale_profiles(folder: str | None = None) -> list[str]:
    """Remove the profile folders of this package's browsers that no longer run.

    Chromium keeps a ``SingletonLock`` link in its profile that names its host and process id:
    a profile whose browser is gone is left over. Only this user's folders on this host are
    judged, and any doubt keeps a folder. Returns the folders removed.
    """
    folder = folder or tempfile.gettempdir()
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(PROFILE_PREFIX):
            continue
        with contextlib.suppress(OSError):
            if not entry.is_dir(follow_symlinks=False) or entry.stat().st_uid != os.getuid():
                continue
            if _profile_in_use(Path(entry.path)):
                continue
            shutil.rmtree(entry.path)
            removed.append(entry.path)
    return removed


def _profile_in_use(profile: Path) -> bool:
    try:
        owner = str((profile / "SingletonLock").readlink())  # "<hostname>-<pid>"
    except FileNotFoundError:
        age = time.time() - profile.stat().st_mtime
        return age < _UNLOCKED_PROFILE_GRACE_SECONDS
    except OSError:
        return True
    host, _, pid = owner.rpartition("-")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's browser (a shared temporary folder): not ours to judge
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process holds that pid
    return True


def _kill_at_exit(pgid: int, profile: str) -> None:
    """At interpreter exit, for a browser nobody stopped: kill its group, remove its profile."""
    _signal_group(pgid, signal.SIGKILL)
    end = time.monotonic() + _STOP_GRACE_SECONDS
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            break
        time.sleep(0.02)
    shutil.rmtree(profile, ignore_errors=True)


def _crash_handlers() -> set[int]:
    """The pids of running Chromium crash handlers (Linux: read from /proc)."""
    found: set[int] = set()
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    argv0 = (entry / "cmdline").read_bytes().split(b"\0", 1)[0]
                    if argv0.endswith(b"chrome_crashpad_handler"):
                        found.add(int(entry.name))
    return found


async def _group_gone(pgid: int) -> None:
    """Wait until no process of the group is left (a kill takes effect asynchronously)."""
    end = time.monotonic() + _STOP_GRACE_SECONDS
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            return
        await asyncio.sleep(0.02)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
