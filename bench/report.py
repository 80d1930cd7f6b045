"""Rows of figures beside their targets: one table for people, the same data as JSON.

A row with a target is marked "pass" or "MISS"; a row without one (context: the direct
device time a ratio is built on, the latency under saturation) is marked "-".
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">=": operator.ge,
    ">": operator.gt,
}


@dataclass(frozen=True)
class Row:
    """One measured figure; ``target`` is (comparison, bound) in the same unit, or None."""

    group: str
    name: str
    value: float
    unit: str
    target: tuple[str, float] | None = None
    note: str = ""

    @property
    def mark(self) -> str:
        if self.target is None:
            return "-"
        op, bound = self.target
        return "pass" if _COMPARE[op](self.value, bound) else "MISS"

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["target"] = (
            None if self.target is None else {"op": self.target[0], "value": self.target[1]}
        )
        body["mark"] = self.mark
        return body


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by the nearest-rank method: a value that was observed."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _figure(value: float, unit: str) -> str:
    if value >= 1000:
        text = f"{value:,.0f}"
    elif value >= 100:
        text = f"{value:.0f}"
    elif value >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}" if value >= 1 else f"{value:.3f}"
    return f"{text} {unit}".rstrip()


def render_table(rows: Sequence[Row]) -> str:
    """A plain-text table: group, measure, figure, target, mark, note."""
    header = ("benchmark", "measure", "figure", "target", "mark", "note")
    lines = [
        (
            row.group,
            row.name,
            _figure(row.value, row.unit),
            "" if row.target is None else f"{row.target[0]} {_figure(row.target[1], row.unit)}",
            row.mark,
            row.note,
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]
    # Figures and targets read best right-aligned, text left-aligned.
    right = {2, 3}

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    misses = sum(row.mark == "MISS" for row in rows)
    passes = sum(row.mark == "pass" for row in rows)
    footer = f"{passes} targets met, {misses} missed"
    return "\n".join([fmt(header), rule, *(fmt(cells) for cells in lines), rule, footer])


def write_json(path: Path, rows: Sequence[Row], environment: dict[str, Any]) -> None:
    document = {"environment": environment, "results": [row.to_json() for row in rows]}
    path.write_text(json.dumps(document, indent=2) + "\n")
