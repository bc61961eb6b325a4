"""Helpers for testing code that uses the playground, with VCR cassettes.

.. code-block:: python

    # conftest.py
    import pytest
    from langchain_cloudflare_playground.testing import vcr_config as playground_vcr_config

    @pytest.fixture(scope="module")
    def vcr_config():
        return playground_vcr_config()

Then ``@pytest.mark.vcr`` records a test's conversations once, over any wire format, and replays
them offline. Imports neither LangChain, LlamaIndex nor vcrpy.
"""

from __future__ import annotations

from typing import Any

from langchain_cloudflare_playground.testing.cassette_slot import cassette_patches

__all__ = ["cassette_patches", "strip_set_cookie", "vcr_config"]

_SECRET_REQUEST_HEADERS = ["cookie", "authorization"]


def vcr_config() -> dict[str, Any]:
    """Settings for vcrpy that keep the session's secrets out of cassettes.

    Cookie and Authorization headers are dropped from requests and Set-Cookie from responses.
    Requests also match on their body, so two different conversations are two recordings. The
    custom patch hands the client the cassette in use, so that WebSocket conversations, which
    vcrpy cannot record itself, are recorded and replayed too (keep it when you add your own).
    """
    return {
        "filter_headers": list(_SECRET_REQUEST_HEADERS),
        "before_record_response": strip_set_cookie,
        "match_on": ["method", "scheme", "host", "port", "path", "query", "body"],
        "decode_compressed_response": True,
        "custom_patches": cassette_patches(),
    }


def strip_set_cookie(response: dict[str, Any]) -> dict[str, Any]:
    """A vcrpy ``before_record_response`` hook: remove ``Set-Cookie`` from a recorded response."""
    headers = response.get("headers")
    if isinstance(headers, dict):
        for name in [name for name in headers if name.lower() == "set-cookie"]:
            del headers[name]
    return response
