"""Grouped bar charts as plain geometry, drawn as inline SVG by the templates.

No JavaScript and no external asset (issue 4 item 6): the server computes every rectangle,
the template only writes ``<rect>`` elements, auto-escaped like any other value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 720, 220  # SVG user units
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 10, 24  # margins around the plot, user units


@dataclass(frozen=True)
class Series:
    """One named series of values, one per label, drawn in ``colour``."""

    name: str
    values: Sequence[int]
    colour: str


@dataclass(frozen=True)
class Bar:
    """One rectangle of the chart, with the tooltip it shows."""

    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Tick:
    """A label on an axis at a position in user units."""

    position: float
    label: str


@dataclass(frozen=True)
class BarChart:
    """Everything the template needs to draw one grouped bar chart."""

    title: str
    width: int
    height: int
    left: int
    plot_bottom: int
    plot_right: int
    series: Sequence[Series]
    bars: list[Bar]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    empty: bool = False  # every value is zero: the template says so


def nice_ceiling(value: int) -> int:
    """Return the smallest of 1, 2, 5, 10, 20, 50, 100, ... that is at least ``value``."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def axis_values(top: int) -> list[int]:
    """Return the whole numbers labelled on an axis from 0 to ``top``: quarters or halves
    of it when they are whole, else its ends (never a repeated or rounded label)."""
    for parts in (4, 2):
        if top % parts == 0 and top >= parts:
            return [top * share // parts for share in range(parts + 1)]
    return [0, top]


def grouped_bars(title: str, labels: Sequence[str], series: Sequence[Series]) -> BarChart:
    """Return a chart with one group of bars per label, one bar per series in each group."""
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    highest = max([0, *(value for one in series for value in one.values)])
    top_value = nice_ceiling(max(1, highest))
    group_width = plot_width / max(len(labels), 1)
    bar_width = group_width * 0.8 / max(len(series), 1)
    bars = []
    for index, label in enumerate(labels):
        for position, one in enumerate(series):
            value = one.values[index]
            height = plot_height * value / top_value
            bars.append(
                Bar(
                    x=round(LEFT + index * group_width + group_width * 0.1 + position * bar_width, 2),
                    y=round(TOP + plot_height - height, 2),
                    width=round(bar_width, 2),
                    height=round(height, 2),
                    colour=one.colour,
                    title=f"{label} {one.name}: {value}",
                )
            )
    # Label about every fifth group so that the axis stays readable at 30 days.
    step = max(1, len(labels) // 6)
    x_ticks = [
        Tick(round(LEFT + (index + 0.5) * group_width, 2), label)
        for index, label in enumerate(labels)
        if index % step == 0
    ]
    y_ticks = [
        Tick(round(TOP + plot_height - plot_height * value / top_value, 2), str(value))
        for value in axis_values(top_value)
    ]
    return BarChart(
        title=title,
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        plot_bottom=TOP + plot_height,
        plot_right=WIDTH - RIGHT,
        series=series,
        bars=bars,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        empty=highest == 0,
    )
