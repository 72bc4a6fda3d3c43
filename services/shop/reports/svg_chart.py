"""Bar charts as hand-written SVG: no scripts, no libraries, the same bytes every time.

Two layouts: columns along a horizontal axis (many ordered labels, such as days) and
horizontal bars with their labels on the left (named categories, such as products).
Coordinates are rounded to two decimals so the output is stable across runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

WIDTH = 760
FONT = 'font-family="system-ui, sans-serif" font-size="12"'
BAR_COLOUR = "#3b6ea5"
GRID_COLOUR = "#d9dee5"
TEXT_COLOUR = "#2b2f36"


@dataclass(frozen=True)
class Bar:
    """One bar: a label and a non-negative value."""

    label: str
    value: Decimal | int | float


def nice_ticks(maximum: float, target: int = 5) -> list[float]:
    """Round tick values from 0 to at least `maximum`, about `target` of them.

    The step is 1, 2 or 5 times a power of ten, as people expect on an axis.

    Raises:
        ValueError: `maximum` is negative or not finite, or `target` is below 1.
    """
    if not math.isfinite(maximum) or maximum < 0:
        raise ValueError(f"maximum must be a finite number >= 0, got {maximum}")
    if target < 1:
        raise ValueError(f"target must be at least 1, got {target}")
    if maximum == 0:
        return [0.0, 1.0]
    rough = maximum / target
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(f * magnitude for f in (1, 2, 5, 10) if f * magnitude >= rough)
    count = math.ceil(maximum / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


def column_chart(bars: Sequence[Bar], *, title: str, value_label: str) -> str:
    """Vertical columns, left to right in the given order.

    With many bars only every n-th label is printed, so labels never overlap.
    """
    height, left, right, top, bottom = 340, 70, 20, 40, 60
    plot_width, plot_height = WIDTH - left - right, height - top - bottom
    parts = _open(height, title)
    if not bars:
        return _empty(parts, height)
    ticks = nice_ticks(max(float(bar.value) for bar in bars))
    scale = plot_height / ticks[-1]
    for tick in ticks:
        y = top + plot_height - tick * scale
        parts.append(_line(left, y, left + plot_width, y, GRID_COLOUR))
        parts.append(_text(left - 8, y + 4, _format_tick(tick), anchor="end"))
    slot = plot_width / len(bars)
    gap = slot * 0.15 if slot > 3 else 0.0
    # About 7 px per character at 12 px: print only as many labels as fit side by side.
    label_width = max(len(bar.label) for bar in bars) * 7 + 12
    label_every = max(1, math.ceil(len(bars) / max(1, plot_width // label_width)))
    for index, bar in enumerate(bars):
        value = float(bar.value)
        x = left + index * slot
        bar_height = value * scale
        parts.append(
            _rect(
                x + gap / 2,
                top + plot_height - bar_height,
                slot - gap,
                bar_height,
                label=bar.label,
                value=value,
            )
        )
        if index % label_every == 0:
            parts.append(_text(x + slot / 2, top + plot_height + 18, bar.label, anchor="middle"))
    parts.append(_line(left, top + plot_height, left + plot_width, top + plot_height, TEXT_COLOUR))
    parts.append(_text(left, height - 12, value_label, anchor="start"))
    return _close(parts)


def bar_chart(bars: Sequence[Bar], *, title: str, value_label: str) -> str:
    """Horizontal bars, top to bottom in the given order, labels on the left."""
    row, left, right, top = 24, 190, 90, 40
    height = top + max(len(bars), 1) * row + 40
    plot_width = WIDTH - left - right
    parts = _open(height, title)
    if not bars:
        return _empty(parts, height)
    ticks = nice_ticks(max(float(bar.value) for bar in bars))
    scale = plot_width / ticks[-1]
    for tick in ticks:
        x = left + tick * scale
        parts.append(_line(x, top, x, top + len(bars) * row, GRID_COLOUR))
    for index, bar in enumerate(bars):
        value = float(bar.value)
        y = top + index * row
        parts.append(_text(left - 8, y + row / 2 + 4, _shorten(bar.label, 28), anchor="end"))
        parts.append(_rect(left, y + 4, value * scale, row - 8, label=bar.label, value=value))
        parts.append(
            _text(left + value * scale + 6, y + row / 2 + 4, _format_value(value), anchor="start")
        )
    parts.append(_text(left, top + len(bars) * row + 24, value_label, anchor="start"))
    return _close(parts)


def _open(height: int, title: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label={quoteattr(title)} {FONT}>',
        f"<title>{escape(title)}</title>",
        f'<text x="{WIDTH / 2:.2f}" y="22" text-anchor="middle" font-size="15" '
        f'fill="{TEXT_COLOUR}">{escape(title)}</text>',
    ]


def _empty(parts: list[str], height: int) -> str:
    parts.append(_text(WIDTH / 2, height / 2, "No sales in this range", anchor="middle"))
    return _close(parts)


def _close(parts: list[str]) -> str:
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _rect(x: float, y: float, width: float, height: float, *, label: str, value: float) -> str:
    # The <title> child is the tooltip: label and exact value of the bar.
    return (
        f'<rect x="{x:.2f}" y="{y:.2f}" width="{max(width, 0):.2f}" height="{max(height, 0):.2f}" '
        f'fill="{BAR_COLOUR}"><title>{escape(label)}: {_format_value(value)}</title></rect>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, colour: str) -> str:
    return f'<line x1="{x1:.2f}" y1="{y1:.2f}" x2="{x2:.2f}" y2="{y2:.2f}" stroke="{colour}"/>'


def _text(x: float, y: float, content: str, *, anchor: str) -> str:
    return (
        f'<text x="{x:.2f}" y="{y:.2f}" text-anchor="{anchor}" fill="{TEXT_COLOUR}">'
        f"{escape(content)}</text>"
    )


def _format_tick(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1_000:
        return f"{value / 1_000:g}k"
    return f"{value:g}"


def _format_value(value: float) -> str:
    return f"{value:,.2f}"


def _shorten(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
