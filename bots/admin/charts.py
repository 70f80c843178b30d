"""Small server-side SVG charts for the dashboard: no JavaScript library, readable without a script.

Every number is formatted here and every label escaped, so the markup can be inlined as it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 640, 236
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 46, 30


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    color: str
    values: Sequence[float | None]


def nice_ceiling(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _frame(title: str, top: float, unit: str, x_labels: Sequence[str]) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" class="chart">',
        f'<text x="{LEFT}" y="16" class="chart-title">{escape(title)}</text>',
    ]
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{value:g}{unit}</text>')
    count = len(x_labels)
    if count:
        step = max(1, count // 6)
        for i in range(0, count, step):
            x = LEFT + (WIDTH - LEFT - RIGHT) * (i + 0.5) / count
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - 10}" class="tick" text-anchor="middle">{escape(x_labels[i])}</text>'
            )
    return parts


def _legend(series: Sequence[Series]) -> list[str]:
    """One row under the title, left to right (about 6.5 px per character of the 11 px labels)."""
    parts, x = [], float(LEFT)
    for item in series:
        parts.append(f'<rect x="{x:.0f}" y="24" width="10" height="10" fill="{item.color}"/>')
        parts.append(f'<text x="{x + 14:.0f}" y="33" class="tick">{escape(item.label)}</text>')
        x += 14 + 6.5 * len(item.label) + 18
    return parts


def line_chart(*, title: str, series: Sequence[Series], x_labels: Sequence[str], unit: str = "") -> str:
    """Lines with a dot per known value; a gap where a minute had no data."""
    known = [v for s in series for v in s.values if v is not None]
    top = nice_ceiling(max(known, default=0.0))
    parts = _frame(title, top, unit, x_labels)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    for item in series:
        count = max(1, len(item.values))
        points: list[str] = []
        for i, value in enumerate(item.values):
            if value is None:
                points.append("")
                continue
            x = LEFT + plot_w * (i + 0.5) / count
            y = TOP + plot_h - plot_h * min(value, top) / top
            points.append(f"{x:.1f},{y:.1f}")
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{item.color}"/>')
        for run in " ".join(points).split("  "):
            if run.strip().count(",") > 1:
                parts.append(f'<polyline points="{run.strip()}" fill="none" stroke="{item.color}" stroke-width="2"/>')
    parts += _legend(series)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(*, title: str, stacks: Sequence[Series], x_labels: Sequence[str], unit: str = "") -> str:
    """Stacked bars, one per label, the series bottom to top."""
    count = max((len(s.values) for s in stacks), default=0)
    totals = [sum(s.values[i] or 0.0 for s in stacks) for i in range(count)]
    top = nice_ceiling(max(totals, default=0.0))
    parts = _frame(title, top, unit, x_labels)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, count)
    for i in range(count):
        base = 0.0
        for item in stacks:
            value = item.values[i] or 0.0
            if value <= 0:
                continue
            height = plot_h * value / top
            y = TOP + plot_h - plot_h * (base + value) / top
            x = LEFT + slot * i + slot * 0.15
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}" fill="{item.color}">'
                f"<title>{escape(item.label)}: {value:g}</title></rect>"
            )
            base += value
    parts += _legend(stacks)
    parts.append("</svg>")
    return "".join(parts)
