"""Importing the client must load neither framework: the LlamaIndex side imports it without
LangChain, and the command line starts without either."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = (
    "import sys, importlib; importlib.import_module({module!r}); "
    "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
    "('langchain_core', 'llama_index', 'langchain', 'nodriver')); print(loaded)"
)


@pytest.mark.parametrize(
    "module",
    [
        "langchain_cloudflare_playground",
        "langchain_cloudflare_playground.client",
        "langchain_cloudflare_playground.cli",
        "llama_index_cloudflare_playground",
    ],
)
def test_importing_loads_no_framework(module):
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_the_frameworks_are_installed_so_the_check_means_something():
    # If langchain_core were missing, the test above would pass for the wrong reason.
    import langchain_core  # noqa: F401
    import llama_index.core  # noqa: F401
