"""The benchmark chart: every ratio of a results file against its target, as one SVG.

python -m benchmarks.charts [--results benchmarks/results.json] [--out docs/img/benchmarks.svg]

``make bench`` runs it after the benchmark, and the documentation's Benchmarks page shows the
SVG. Each row of the results file (any list of objects with ``name``, ``ratio_median`` and
``target``, wherever it sits in the file, so sections added later are drawn too) is a bar of its
median ratio, ours over the baseline, on a log scale, with its min-max range as a whisker and
its target as a mark:

- the bar is green when the harness says the target was met, red when it was missed, grey when
  the row has no target (``(measured)``); the verdict is the file's own ``met``, never redrawn;
- a target in ratios (``<= 1.5x``, ``>= 0.85x``, ``> 1x (faster)``) is a solid mark at that ratio;
- a target in units over the baseline (``<= +2 ms (median)``) is a dashed mark where the
  baseline's median plus that much would put the ratio: a guide, since the harness judges the
  pairs' differences, not this ratio.

The same results give the same bytes: no date, no version, and ids from a fixed salt.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
CHART = HERE.parent / "docs" / "img" / "benchmarks.svg"

COLOURS = {"met": "#2e7d32", "missed": "#c62828", "measured": "#9e9e9e"}
VERDICTS = {"met": "met", "missed": "MISSED", "measured": "measured"}
_TARGET = re.compile(r"^\s*(<=|>=|<|>)\s*(\+)?\s*(\d+(?:\.\d+)?)\s*(x\b)?")


@dataclass(frozen=True)
class Target:
    """A target read from its text: which way is better, and the ratio it stands for."""

    text: str
    at_most: bool  # lower is better
    ratio: float
    overhead: bool  # given in units over the baseline, drawn at the baseline's median


@dataclass(frozen=True)
class Row:
    """One comparison as the chart draws it."""

    section: str
    name: str
    ratio: float
    low: float
    high: float
    target: Target | None
    status: str  # met, missed or measured


def read_target(row: dict[str, Any]) -> Target | None:
    """The row's target, or ``None`` when it has none this chart can draw."""
    text = str(row.get("target") or "")
    match = _TARGET.match(text)
    if match is None:
        return None
    sign, plus, value, times = match.groups()
    number = float(value)
    at_most = sign in ("<", "<=")
    if plus:  # an overhead in the row's unit, over the baseline's median
        baseline = row.get("baseline_median")
        if not isinstance(baseline, int | float) or baseline <= 0:
            return None
        return Target(text, at_most, (baseline + number) / baseline, overhead=True)
    del times  # "x" or a bare number: a ratio either way
    return Target(text, at_most, number, overhead=False)


def status_of(row: dict[str, Any], target: Target | None) -> str:
    """met, missed or measured: the harness's own verdict when the row carries one."""
    met = row.get("met")
    if met is True:
        return "met"
    if met is False:
        return "missed"
    if "met" in row or target is None or target.overhead:
        return "measured"
    ratio = float(row["ratio_median"])
    return (
        "met" if (ratio <= target.ratio if target.at_most else ratio >= target.ratio) else "missed"
    )


def rows_of(results: Any, path: tuple[str, ...] = ()) -> list[Row]:
    """Every comparison in the results, wherever it sits, in the file's order."""
    found: list[Row] = []
    if isinstance(results, dict):
        for key, value in results.items():
            found.extend(rows_of(value, (*path, str(key))))
    elif isinstance(results, list):
        section = " / ".join(part for part in path if part != "comparisons") or "comparisons"
        found.extend(
            _row(section, item)
            for item in results
            if isinstance(item, dict) and {"name", "ratio_median", "target"} <= item.keys()
        )
    return found


def _row(section: str, item: dict[str, Any]) -> Row:
    ratio = float(item["ratio_median"])
    target = read_target(item)
    return Row(
        section=section,
        name=str(item["name"]),
        ratio=ratio,
        low=float(item.get("ratio_min", ratio)),
        high=float(item.get("ratio_max", ratio)),
        target=target,
        status=status_of(item, target),
    )


def facts_of(results: Any) -> list[str]:
    """The yes/no facts (``facts``: objects with a ``name`` and no ratio), as lines of text."""
    facts = results.get("facts", []) if isinstance(results, dict) else []
    lines = []
    for fact in facts:
        if isinstance(fact, dict) and "name" in fact:
            rest = ", ".join(f"{key}: {value}" for key, value in fact.items() if key != "name")
            lines.append(f"{fact['name']}: {rest}")
    return lines


Line = tuple[str, "Row | str"]  # ("section", title), ("row", Row) or ("fact", text)


def lines_of(results: dict[str, Any]) -> list[Line]:
    """The chart's lines from the top: a heading before each section, its rows, then the facts."""
    lines: list[Line] = []
    section = None
    for row in rows_of(results):
        if row.section != section:
            section = row.section
            lines.append(("section", section))
        lines.append(("row", row))
    lines.extend(("fact", fact) for fact in facts_of(results))
    return lines


def draw(results: dict[str, Any], out: Path) -> None:
    """Draw the chart of ``results`` into the SVG file ``out``."""
    import matplotlib as mpl  # noqa: PLC0415 (only this command needs matplotlib)
    from matplotlib.figure import Figure  # noqa: PLC0415

    mpl.rcParams["svg.hashsalt"] = "cloudflare-playground-benchmarks"
    mpl.rcParams["svg.fonttype"] = "none"  # text stays text: the row names can be searched
    lines = lines_of(results)
    rows = [item for kind, item in lines if isinstance(item, Row)]
    if not rows:
        msg = "no comparisons (objects with name, ratio_median and target) in the results"
        raise ValueError(msg)
    values = [v for row in rows for v in (row.ratio, row.low, row.high) if v > 0]
    values += [row.target.ratio for row in rows if row.target and row.target.ratio > 0]
    left = 10 ** math.floor(math.log10(min(values) / 1.2))
    right = 10 ** math.ceil(math.log10(max(values) * 1.2))

    # Margins in inches: the row names on the left, each row's verdict on the right.
    width, height = 14.0, 0.26 * len(lines) + 1.9
    left_in, right_in, top_in, bottom_in = 4.6, 3.4, 0.6, 1.3
    figure = Figure(figsize=(width, height))
    axes = figure.add_axes(
        (
            left_in / width,
            bottom_in / height,
            1 - (left_in + right_in) / width,
            1 - (top_in + bottom_in) / height,
        )
    )
    axes.set_xscale("log")
    axes.set_xlim(left, right)
    axes.set_ylim(len(lines) - 0.5, -0.5)
    axes.axvline(1.0, color="#616161", linewidth=0.8, zorder=1)
    for y, (_, item) in enumerate(lines):
        if isinstance(item, Row):
            _draw_row(axes, y, item, left)
    axes.set_yticks(range(len(lines)), [_label(item) for _, item in lines], fontsize=7.5)
    for tick, (kind, _) in zip(axes.get_yticklabels(), lines, strict=True):
        if kind == "section":
            tick.set_fontweight("bold")
            tick.set_fontsize(9)
        elif kind == "fact":
            tick.set_style("italic")
    axes.set_xlabel("ours / baseline (median of the pairs; log scale; whisker: min-max)")
    axes.grid(axis="x", which="major", color="#e0e0e0", linewidth=0.6, zorder=0)
    axes.set_axisbelow(True)
    machine = results.get("machine", {})
    where = ", ".join(
        str(machine[key])
        for key in ("cpu", "python")
        if isinstance(machine, dict) and key in machine
    )
    figure.suptitle(
        "make bench: each ratio against its target" + (f" ({where})" if where else ""),
        x=0.02,
        ha="left",
        fontsize=11,
    )
    _legend(figure)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})


def _label(item: Row | str) -> str:
    return item.name if isinstance(item, Row) else item


def _draw_row(axes: Any, y: int, row: Row, left: float) -> None:
    """The bar, the min-max whisker, the target's mark and the verdict of one row."""
    bar = axes.barh(
        y, row.ratio - left, left=left, height=0.62, color=COLOURS[row.status], zorder=2
    )
    bar.patches[0].set_gid(f"bar-{row.status}-{y}")
    axes.hlines(y, row.low, row.high, color="#212121", linewidth=0.8, zorder=3)
    if row.target is not None:
        axes.vlines(
            row.target.ratio,
            y - 0.42,
            y + 0.42,
            color="#000000",
            linewidth=2.2,
            linestyles="dashed" if row.target.overhead else "solid",
            zorder=4,
        )
    verdict = f"{row.ratio:.2f}x {VERDICTS[row.status]}"
    if row.status != "measured" and row.target is not None:
        verdict += f", target {row.target.text}"
    axes.annotate(
        verdict,
        xy=(1.0, y),
        xycoords=("axes fraction", "data"),
        xytext=(6, 0),
        textcoords="offset points",
        va="center",
        fontsize=7.5,
        color="#424242" if row.status == "measured" else COLOURS[row.status],
        gid=f"verdict-{row.status}-{y}",
    )


def _legend(figure: Any) -> None:
    from matplotlib.lines import Line2D  # noqa: PLC0415
    from matplotlib.patches import Patch  # noqa: PLC0415

    mark = {"color": "#000000", "linewidth": 2.2}
    figure.legend(
        handles=[
            Patch(color=COLOURS["met"], label="target met"),
            Patch(color=COLOURS["missed"], label="target missed"),
            Patch(color=COLOURS["measured"], label="measured (no target)"),
            Line2D([], [], **mark, label="target (a ratio)"),
            Line2D(
                [],
                [],
                **mark,
                linestyle="dashed",
                label="target (an overhead, at the baseline's median)",
            ),
        ],
        loc="lower center",
        ncols=5,
        fontsize=7.5,
        frameon=False,
    )


def main(argv: list[str] | None = None) -> int:
    """Draw the chart of a results file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="the results file")
    parser.add_argument("--out", type=Path, default=CHART, help="the SVG to write")
    args = parser.parse_args(argv)
    draw(json.loads(args.results.read_text()), args.out)
    print(f"chart written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
