"""The distribution a user installs: built from this checkout, as the README says to."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_both_packages_the_licence_and_no_made_up_url(tmp_path):
    # As the README's "from a checkout" steps do, without fetching a build backend.
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
    )
    (wheel,) = tmp_path.glob("cloudflare_playground-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(archive.read(n).decode() for n in names if n.endswith("METADATA"))
    assert "langchain_cloudflare_playground/client/playground.py" in names
    assert "llama_index_cloudflare_playground/llm.py" in names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    assert not any(n.startswith("tests/") for n in names)
    assert "License-Expression: MIT" in metadata
    assert "Project-URL" not in metadata  # no address is claimed until one exists
    extras = {line.split(": ", 1)[1] for line in metadata.splitlines() if "Provides-Extra" in line}
    assert extras == {"all", "browser", "impersonate", "langchain", "llama-index", "serve"}
    assert "langchain_cloudflare_playground/serve/app.py" in names

    # Installed from the wheel (its dependencies are this environment's), it imports and runs.
    target = tmp_path / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "-q", "--target", str(target), str(wheel)], check=True
    )
    probe = (
        "import langchain_cloudflare_playground as lc, llama_index_cloudflare_playground as li;"
        "print(lc.__file__); print(li.__file__); print(lc.__version__)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    lc_file, li_file, version = shown.stdout.split()
    assert lc_file.startswith(str(target))
    assert li_file.startswith(str(target))
    assert version == "0.2.0"
    help_text = subprocess.run(
        [sys.executable, "-m", "langchain_cloudflare_playground.cli", "--help"],
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "cf-playground" in help_text.stdout
