"""The site the live canary checks."""

from __future__ import annotations

import os

from langchain_cloudflare_playground.client.defaults import DEFAULT_BASE_URL

# The real site; another playground (a local Agents server) may stand in for a dry run.
LIVE_URL = os.environ.get("CF_PLAYGROUND_LIVE_URL") or DEFAULT_BASE_URL
