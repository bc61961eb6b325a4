"""Importing the client must load neither framework: the LlamaIndex side imports it without
LangChain, and the command line starts without either."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = (
    "import sys, importlib; importlib.import_module({module!r}); "
    "loaded = sorted({{m.split('.')[0] for m in sys.modules}} & {forbidden!r}); print(loaded)"
)
EVERY_FRAMEWORK = {"langchain_core", "langchain", "llama_index", "nodriver"}


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("langchain_cloudflare_playground", EVERY_FRAMEWORK),
        ("langchain_cloudflare_playground.client", EVERY_FRAMEWORK),
        ("langchain_cloudflare_playground.cli", EVERY_FRAMEWORK),
        # cf-playground serve is an adapter of its own, on the client alone.
        ("langchain_cloudflare_playground.serve", EVERY_FRAMEWORK),
        # The LlamaIndex adapter loads LlamaIndex, and never LangChain.
        ("llama_index_cloudflare_playground", EVERY_FRAMEWORK - {"llama_index"}),
    ],
)
def test_importing_loads_no_other_framework(module, forbidden):
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module, forbidden=forbidden)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_the_probe_sees_a_framework_when_one_is_loaded():
    # The check above would pass for the wrong reason if the probe could not see an import.
    probe = PROBE.format(module="llama_index_cloudflare_playground", forbidden={"llama_index"})
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "['llama_index']"


def test_the_frameworks_are_installed_so_the_check_means_something():
    # If langchain_core were missing, the test above would pass for the wrong reason.
    import langchain_core  # noqa: F401
    import llama_index.core  # noqa: F401


@pytest.mark.parametrize(
    "statement",
    [
        "from langchain_cloudflare_playground import ChatCloudflarePlayground",
        "from llama_index_cloudflare_playground import CloudflarePlayground",
        "import langchain_cloudflare_playground.client",
    ],
)
def test_the_network_layers_load_with_the_first_client_not_the_import(statement):
    # Importing an adapter costs its framework little (benchmarks/: import times); aiohttp and
    # the client load when a model first talks to the playground.
    probe = (
        f"import sys; {statement}; before = 'aiohttp' in sys.modules; "
        "from langchain_cloudflare_playground.client import PlaygroundClient; PlaygroundClient(); "
        "print(before, 'aiohttp' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "True"]


@pytest.mark.parametrize(
    ("statement", "absent", "needed_by", "extra"),
    [
        (
            "from langchain_cloudflare_playground import ChatCloudflarePlayground",
            "langchain_core",
            "ChatCloudflarePlayground",
            "langchain",
        ),
        (
            "import langchain_cloudflare_playground.chat_models",
            "langchain_core",
            "ChatCloudflarePlayground",
            "langchain",
        ),
        (
            "from llama_index_cloudflare_playground import CloudflarePlayground",
            "llama_index",
            "CloudflarePlayground",
            "llama-index",
        ),
    ],
)
def test_a_missing_framework_names_the_extra_to_install(statement, absent, needed_by, extra):
    # None in sys.modules is the import system's own "not installed": the import then fails as
    # it would in an environment without the framework.
    probe = f"import sys; sys.modules[{absent!r}] = None\n{statement}"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"ModuleNotFoundError: {needed_by} needs the {extra!r} extra, which is not installed:"
        f' pip install "cloudflare-playground[{extra}]" (or, from a checkout of the source,'
        f' pip install ".[{extra}]")'
    )


def test_the_client_needs_no_extra():
    probe = (
        "import sys; sys.modules['langchain_core'] = sys.modules['llama_index'] = None\n"
        "from langchain_cloudflare_playground.client import PlaygroundClient; PlaygroundClient()"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
