r"""MkDocs hooks for the site (mkdocs.yml: ``hooks``; left out of the site itself).

GitHub's tables need a pipe inside inline code escaped (``<\|tool_call>``) and show it
unescaped; Python-Markdown's tables split cells around inline code by themselves and would show
the backslash. So table rows get their escaped pipes back inside inline code, and the pages read
the same on GitHub and on the site.
"""

from __future__ import annotations

import re
from typing import Any

_CODE = re.compile(r"`[^`\n]*`")


def on_page_markdown(markdown: str, **kwargs: Any) -> str:  # noqa: ANN401 (MkDocs's hook signature)
    r"""Unescape ``\|`` inside inline code on table rows."""
    del kwargs
    return "\n".join(
        _CODE.sub(lambda code: code.group(0).replace("\\|", "|"), line)
        if line.lstrip().startswith("|")
        else line
        for line in markdown.split("\n")
    )
