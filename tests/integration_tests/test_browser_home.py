"""The browser leaves the user's home alone: real Chromium, run as a user runs it.

Chromium writes beside its profile: dconf's file (``~/.cache/dconf``), its crash reports
(``~/.config/chromium/Crash Reports``), NSS's certificate store (``~/.local/share/pki``, made
when a page's certificate is refused) and the folder of its singleton socket
(``$TMPDIR/org.chromium.Chromium.*``). The package runs it with all of those inside the profile
folder it removes. Each test here runs ``cf-playground session refresh`` in a process whose home
(``HOME`` and the XDG folders) and ``TMPDIR`` are empty folders of the test's own, then looks at
what is left in them.

Chromium puts its socket folder in ``/tmp`` only when ``TMPDIR`` is unset; with ``TMPDIR`` at a
folder of the test's own, anything it leaves there is this test's. ``/tmp`` itself is shared
with every program on the machine: comparing its names before and after failed here once,
on two socket folders another program's Chromium made meanwhile.

The session cache is elsewhere (``CF_PLAYGROUND_CACHE_DIR``, set for every test), so an empty
home means the browser wrote nothing there either.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from langchain_cloudflare_playground.client import SessionCache
from tests.helpers import CLI, chromium_processes, require_tool
from tests.reference_server import ReferenceServer
from tests.tls_edge import TlsEdge

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.network_server


@pytest.fixture(scope="module")
def chromium():
    return require_tool("chromium")


@pytest.fixture(scope="module")
def gated_http():
    with ReferenceServer("data-stream", gate=True) as server:
        yield server


@dataclass(frozen=True)
class EmptyFolders:
    """A home and a temporary folder of the test's own, empty at first."""

    home: Path
    temp: Path

    def written(self) -> dict[str, list[str]]:
        """What appeared in each since."""
        return {"home": _tree(self.home), "TMPDIR": _tree(self.temp)}


NOTHING = {"home": [], "TMPDIR": []}


@pytest.fixture
def folders(tmp_path) -> EmptyFolders:
    # A temporary folder deeper than 62 characters: an absolute path from it to the socket
    # would pass the 107 bytes a Unix socket path may hold, and Chromium would abort.
    made = EmptyFolders(tmp_path / "home", tmp_path / f"temp-{'x' * 60}")
    made.home.mkdir()
    made.temp.mkdir()
    return made


def _tree(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def _refresh(base_url: str, folders: EmptyFolders, chromium: str) -> subprocess.CompletedProcess:
    """``cf-playground session refresh`` with its home and temporary folder at ``folders``."""
    home = folders.home
    env = {
        name: value
        for name, value in os.environ.items()
        # Unset, as on a server: dconf then writes to the cache folder, a folder of home.
        if not name.startswith("XDG_") and name != "SSL_CERT_FILE"
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        TMPDIR=str(folders.temp),
        CHROME_PATH=chromium,
    )
    before = chromium_processes()
    done = subprocess.run(
        [CLI, "session", "refresh", "--base-url", base_url],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        check=False,
    )
    assert chromium_processes() - before == set()  # gone before the command returned
    return done


def test_a_browser_session_leaves_home_and_temporary_folder_empty(
    chromium, gated_http, folders, isolated_session_cache
):
    done = _refresh(gated_http.url, folders, chromium)
    assert done.returncode == 0, done.stderr
    assert "fresh browser session saved" in done.stdout
    session = SessionCache().load(gated_http.url)  # the browser really got past the gate
    assert session is not None
    assert session.source == "browser"
    assert set(session.cookies) >= {"cf_clearance", "pg_js"}
    assert isolated_session_cache in SessionCache().path.parents
    assert folders.written() == NOTHING


def test_a_refused_certificate_leaves_no_certificate_store_in_home(
    chromium, gated_http, tls_certificates, folders
):
    # Chromium opens NSS's store in the user's data folder when it refuses a certificate.
    with TlsEdge(gated_http.port, tls_certificates) as edge:
        done = _refresh(edge.url, folders, chromium)
    assert done.returncode != 0
    assert "net::ERR_CERT_AUTHORITY_INVALID" in done.stderr
    assert "Traceback" not in done.stderr
    assert folders.written() == NOTHING
