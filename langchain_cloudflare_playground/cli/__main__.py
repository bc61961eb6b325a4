"""``python -m langchain_cloudflare_playground.cli``: the same as ``cf-playground``."""

import sys

from langchain_cloudflare_playground.cli import main

sys.exit(main())
