"""The inline SVG charts: each mark's size is its value on the chart's scale, its label and value are
in the markup, text is escaped, and nothing in it needs a script or a style attribute."""

import itertools
import re

import pytest

from csintegration.adminsite.charts import Bar, Point, bar_chart, histogram, line_chart


def _marks(svg: str) -> list[dict]:
    marks = []
    for group in re.findall(r'<g class="mark" (.*?)</g>', svg):
        marks.append(
            {
                "label": re.search(r'data-label="([^"]*)"', group).group(1),
                "value": float(re.search(r'data-value="([^"]*)"', group).group(1)),
                "height": float(re.search(r'<rect [^>]*height="([^"]*)"', group).group(1)),
                "y": float(re.search(r'<rect [^>]*y="([^"]*)"', group).group(1)),
                "text": re.search(r'<text class="value"[^>]*>([^<]*)</text>', group).group(1),
            }
        )
    return marks


def _plot_height(svg: str) -> float:
    return float(re.search(r'data-plot-height="([^"]*)"', svg).group(1))


def test_bar_heights_are_proportional_to_the_values():
    svg = bar_chart([Bar("a", 10), Bar("b", 40), Bar("c", 0), Bar("d", 25)], title="t")
    marks, plot = _marks(svg), _plot_height(svg)
    assert [m["label"] for m in marks] == ["a", "b", "c", "d"]
    assert [m["value"] for m in marks] == [10, 40, 0, 25]
    assert [m["text"] for m in marks] == ["10", "40", "0", "25"]
    # The largest bar fills the plot; every other is its share of it; all stand on the same axis.
    assert marks[1]["height"] == pytest.approx(plot)
    for mark in marks:
        assert mark["height"] == pytest.approx(plot * mark["value"] / 40, abs=0.01)
    assert len({round(m["y"] + m["height"], 2) for m in marks}) == 1


def test_a_fixed_scale_and_links():
    svg = bar_chart([Bar("x", 5, link="/admin/?a=1&b=2")], title="t", scale=20)
    (mark,) = _marks(svg)
    assert mark["height"] == pytest.approx(_plot_height(svg) / 4, abs=0.01)
    assert '<a href="/admin/?a=1&amp;b=2">' in svg


def test_empty_and_zero_charts_draw_no_bar_of_height():
    assert _marks(bar_chart([], title="none")) == []
    assert [m["height"] for m in _marks(histogram([Bar("0-9", 0), Bar("10-19", 0)], title="h"))] == [0, 0]


def test_text_is_escaped_and_there_is_no_script_or_style():
    svg = bar_chart([Bar('<script>alert("x")</script>', 3, display="3 & more")], title="<b>t</b>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "3 &amp; more" in svg
    assert "style=" not in svg and "<b>" not in svg


def test_line_points_sit_at_their_value():
    svg = line_chart([Point("d1", 0), Point("d2", 50), Point("d3", 100), Point("d4", 75)], title="h")
    top = float(re.search(r'data-plot-top="([^"]*)"', svg).group(1))
    plot = _plot_height(svg)
    circles = re.findall(
        r'<circle [^>]*cx="([^"]*)" cy="([^"]*)"[^>]*data-label="([^"]*)" data-value="([^"]*)"', svg
    )
    assert [(label, float(value)) for _, _, label, value in circles] == [
        ("d1", 0),
        ("d2", 50),
        ("d3", 100),
        ("d4", 75),
    ]
    for _, cy, _, value in circles:
        assert float(cy) == pytest.approx(top + plot * (1 - float(value) / 100), abs=0.01)
    xs = [float(cx) for cx, _, _, _ in circles]
    assert (
        xs == sorted(xs)
        and max(b - a for a, b in itertools.pairwise(xs)) - min(b - a for a, b in itertools.pairwise(xs))
        < 0.02
    )
    assert re.search(r'<polyline class="line" points="[^"]+"', svg)
