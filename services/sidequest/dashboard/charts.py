"""Geometry for the SVG charts, computed here so templates only place numbers.

Charts are drawn as plain SVG (polylines, rects, text): no chart library, no inline
script, and every coordinate is a number we computed, never text from Redis.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WIDTH = 800
HEIGHT = 220
PAD_LEFT = 56
PAD_RIGHT = 12
PAD_TOP = 12
PAD_BOTTOM = 28


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    series: dict[str, str]  # name -> "x,y x,y ..." polyline points
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    baseline: float


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is >= value (at least 1)."""
    if value <= 1:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(10 * magnitude)


def history_chart(days: list[tuple[date, int, int]]) -> LineChart:
    """Processed and failed per day, oldest on the left (`days` comes newest first)."""
    ordered = list(reversed(days))
    top = nice_ceiling(max([max(p, f) for _, p, f in ordered] + [0]))
    plot_width = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_height = HEIGHT - PAD_TOP - PAD_BOTTOM
    baseline = PAD_TOP + plot_height
    count = len(ordered)

    def x(index: int) -> float:
        return PAD_LEFT + (plot_width * index / (count - 1) if count > 1 else plot_width / 2)

    def y(value: int) -> float:
        return baseline - plot_height * value / top

    series = {
        "processed": " ".join(f"{x(i):.1f},{y(p):.1f}" for i, (_, p, _f) in enumerate(ordered)),
        "failed": " ".join(f"{x(i):.1f},{y(f):.1f}" for i, (_, _p, f) in enumerate(ordered)),
    }
    label_every = max(1, count // 6)
    x_ticks = [
        Tick(x(i), baseline + 18, day.strftime("%b %d"))
        for i, (day, _, _) in enumerate(ordered)
        if (count - 1 - i) % label_every == 0
    ]
    y_ticks = [
        Tick(PAD_LEFT - 6, y(int(top * part / 4)), f"{int(top * part / 4):,}") for part in range(5)
    ]
    return LineChart(WIDTH, HEIGHT, series, x_ticks, y_ticks, baseline)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    width: float  # in percent of the chart's width


def bars(values: list[tuple[str, float]]) -> list[Bar]:
    """Horizontal bars scaled to the largest value."""
    top = max((value for _, value in values), default=0.0)
    return [Bar(label, value, 100.0 * value / top if top > 0 else 0.0) for label, value in values]
