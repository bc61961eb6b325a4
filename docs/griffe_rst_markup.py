"""A griffe extension for the API reference: the docstrings' reStructuredText bits as Markdown.

The package's docstrings follow the LangChain partner packages: Google-style sections, with
``.. code-block:: python`` blocks, ``::`` literal blocks and ``:class:`Name``` roles here and
there. mkdocstrings renders Markdown, where those would show as written; this extension rewrites
them when griffe reads each docstring (the source stays as it is): a code block becomes a fenced
block, a role becomes inline code of the name it points at.

mkdocs.yml loads it (``extensions: [docs/griffe_rst_markup.py]``) and leaves it out of the site.
"""

from __future__ import annotations

import re
import textwrap
from typing import TYPE_CHECKING, Any

import griffe

if TYPE_CHECKING:
    import ast

_ROLE = re.compile(r":(?:class|meth|func|attr|mod|exc|data|obj):`(~?)([\w.]+)`")
_CODE_BLOCK = re.compile(r"^(\s*)\.\. code-block::\s*(\w*)\s*$")


def markdown_of(text: str) -> str:
    """``text`` with its code blocks fenced and its roles as inline code."""
    text = _ROLE.sub(_role_as_code, text)
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        block = _CODE_BLOCK.match(line)
        literal = not block and line.rstrip().endswith("::") and not line.strip().startswith("..")
        if not (block or literal):
            out.append(line)
            index += 1
            continue
        indent = len(line) - len(line.lstrip())
        if block:
            language = block.group(2) or "python"
        else:
            language = "python"
            # "Some text::" keeps one colon; a line that is only "::" goes.
            head = line.rstrip()[:-1]
            if head.strip() not in ("", ":"):
                out.append(head)
        index += 1
        body: list[str] = []
        while index < len(lines) and (
            not lines[index].strip() or len(lines[index]) - len(lines[index].lstrip()) > indent
        ):
            body.append(lines[index])
            index += 1
        while body and not body[-1].strip():
            body.pop()
        code = textwrap.dedent("\n".join(body)).strip("\n")
        prefix = " " * indent
        if out and out[-1].strip() and not out[-1].rstrip().endswith(":"):
            out.append("")  # a fence needs a blank line after a paragraph, not after a title
        out.append(f"{prefix}```{language}")
        out.extend(f"{prefix}{code_line}" if code_line else "" for code_line in code.split("\n"))
        out.extend([f"{prefix}```", ""])
    return "\n".join(out)


def _role_as_code(match: re.Match[str]) -> str:
    short, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


class RstMarkup(griffe.Extension):
    """Rewrite each docstring's reStructuredText code blocks and roles as Markdown."""

    def on_instance(
        self,
        *,
        node: ast.AST | griffe.ObjectNode,
        obj: griffe.Object,
        agent: griffe.Visitor | griffe.Inspector,
        **kwargs: Any,  # noqa: ANN401 (griffe's hook signature)
    ) -> None:
        """Rewrite ``obj``'s docstring, if it has one."""
        del node, agent, kwargs
        if obj.docstring is not None:
            obj.docstring.value = markdown_of(obj.docstring.value)
