"""A separate virtual environment holding gpt4free (g4f), the original implementation.

g4f is GPL, so it is never imported here: the harness runs ``benchmarks/g4f_stream.py`` with the
python this module returns, in its own process.

Only ``g4f==6.6.0`` is installed, with its required dependencies and no extra. Without
``curl_cffi`` its ``g4f.requests.StreamSession`` falls back to ``g4f.requests.aiohttp`` (aiohttp is
a required dependency of g4f), and without ``nodriver`` the Cloudflare provider starts from its
default headers and no cookies: the provider's own default path, no browser involved.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

G4F_REQUIREMENT = "g4f==6.6.0"
VENV_NAME = ".g4f-venv"
STAMP_NAME = ".benchmark-ready"
# Run in the new environment after installing: g4f imports, and takes the aiohttp path.
CHECK = (
    "import importlib.metadata as m, g4f.requests as r, g4f.Provider as p; "
    "assert m.version('g4f') == '6.6.0', m.version('g4f'); "
    "assert not r.has_curl_cffi and not r.has_nodriver, 'curl_cffi or nodriver is installed'; "
    "assert r.StreamSession.__module__ == 'g4f.requests.aiohttp', r.StreamSession.__module__; "
    "assert p.Cloudflare.__name__ == 'Cloudflare'"
)


def _log(message: str) -> None:
    print(f"[g4f-venv] {message}", file=sys.stderr, flush=True)


def venv_python(venv: Path) -> Path:
    """The python executable of the virtual environment ``venv``."""
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def ensure_g4f_venv(root: Path) -> Path:
    """The python of ``root / ".g4f-venv"``, with g4f 6.6.0 installed, creating it if missing.

    A stamp file naming the requirement marks a finished environment, so later calls return at
    once. An environment without it (a run that was interrupted) is made again from scratch.

    Raises:
        RuntimeError: The environment could not be made, or g4f does not import as expected.
    """
    venv = root.absolute() / VENV_NAME
    python = venv_python(venv)
    stamp = venv / STAMP_NAME
    if python.exists() and stamp.exists() and stamp.read_text().strip() == G4F_REQUIREMENT:
        return python

    started = time.perf_counter()
    if venv.exists():
        _log(f"{venv} is unfinished or out of date; removing it")
        shutil.rmtree(venv)
    _log(f"creating {venv} with {sys.executable}")
    _run([sys.executable, "-m", "venv", str(venv)])
    _log(f"installing {G4F_REQUIREMENT} (no extras: aiohttp sessions, no curl_cffi, no nodriver)")
    _run([str(python), "-m", "pip", "install", "--disable-pip-version-check", G4F_REQUIREMENT])
    _log("checking that g4f imports and uses its aiohttp StreamSession")
    _run([str(python), "-I", "-c", CHECK])
    stamp.write_text(f"{G4F_REQUIREMENT}\n")
    _log(f"ready in {time.perf_counter() - started:.1f} s: {python}")
    return python


def _run(command: list[str]) -> None:
    """Run ``command``, its output going to stderr; raise if it fails."""
    result = subprocess.run(command, stdout=sys.stderr, stderr=sys.stderr, check=False)
    if result.returncode != 0:
        msg = f"{command[0]} exited with {result.returncode}: {' '.join(command)}"
        raise RuntimeError(msg)
