"""The Results table of ``benchmarks/README.md``, from a ``results.json``.

python -m benchmarks.markdown_table [results.json]

Prints the table as Markdown, so the README shows what a run wrote, figure for figure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results.json")


def markdown_table(results: dict[str, Any]) -> str:
    """One row per comparison and fact, as the README's Results table has them."""
    lines = [
        "| comparison | ours | baseline | ratio (min-max) | target | met | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["comparisons"]:
        unit = row["unit"]
        met = {True: "yes", False: "**no**", None: "-"}[row["met"]]
        lines.append(
            f"| {row['name']} | {row['ours_median']:,.2f} {unit} "
            f"| {row['baseline_median']:,.2f} {unit} "
            f"| {row['ratio_median']:.2f}x ({row['ratio_min']:.2f}-{row['ratio_max']:.2f}) "
            f"| {row['target']} | {met} | {row['note']} |"
        )
    lines.extend(
        f"| {fact['name']} | {fact['imported']} | | | False "
        f"| {'**no**' if fact['imported'] else 'yes'} | |"
        for fact in results["facts"]
    )
    return "\n".join(lines)


def main() -> int:
    """Print the table of the results file given (by default the last whole run's)."""
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS
    print(markdown_table(json.loads(path.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
