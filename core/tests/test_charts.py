"""Bar charts as geometry (core.charts): the value axis is labelled with whole numbers, each
once, and an all-zero chart says it is empty."""

from __future__ import annotations

import pytest

from core.charts import Series, axis_values, grouped_bars, nice_ceiling


@pytest.mark.parametrize(("value", "top"), [(1, 1), (2, 2), (3, 5), (7, 10), (11, 20),
                                            (60, 100), (100, 100), (4321, 5000)])
def test_the_top_of_the_axis_is_a_round_number(value, top):
    assert nice_ceiling(value) == top


@pytest.mark.parametrize(("top", "labels"), [(1, [0, 1]), (2, [0, 1, 2]), (5, [0, 5]),
                                             (10, [0, 5, 10]), (20, [0, 5, 10, 15, 20])])
def test_axis_labels_are_whole_and_never_repeat(top, labels):
    assert axis_values(top) == labels


def test_an_all_zero_chart_is_empty_with_an_axis_from_0_to_1():
    chart = grouped_bars("Calls", ["a", "b"], [Series("calls", [0, 0], "#000")])
    assert chart.empty and [tick.label for tick in chart.y_ticks] == ["0", "1"]
    assert all(bar.height == 0 for bar in chart.bars)


def test_bars_scale_to_the_round_top():
    chart = grouped_bars("Calls", ["a", "b"], [Series("calls", [3, 6], "#000")])
    assert not chart.empty and [tick.label for tick in chart.y_ticks] == ["0", "5", "10"]
    assert chart.bars[1].height == pytest.approx(chart.bars[0].height * 2)
