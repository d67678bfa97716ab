"""Charts as inline SVG, drawn on the server: bars (optionally linked), a histogram and a line.

No script and no style attribute, so they render under a strict Content-Security-Policy, print, and
can be checked in a Django test: every mark carries ``data-label`` and ``data-value`` and its size is
proportional to its value (a bar's height is ``value / scale * plot height``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

#: tone → CSS class (adminsite/backoffice.css colours them; the SVG stays readable without it)
TONES = {"primary", "success", "warning", "danger", "critical", "neutral"}
_FALLBACK_FILL = {
    "primary": "#7c3aed",
    "success": "#16a34a",
    "warning": "#d97706",
    "danger": "#dc2626",
    "critical": "#7f1d1d",
    "neutral": "#64748b",
}


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    link: str | None = None
    tone: str = "primary"
    #: the text above the bar (the value by default)
    display: str | None = None


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _px(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    width: int = 480,
    height: int = 200,
    scale: float | None = None,
    gap: float = 8.0,
    css_class: str = "chart-bars",
) -> SafeString:
    """Vertical bars, each ``value / scale`` of the plot's height (``scale`` defaults to the largest)."""
    top, bottom, side = 18.0, 34.0, 4.0
    plot_height = height - top - bottom
    largest = max((bar.value for bar in bars), default=0)
    scale = scale if scale is not None else largest
    slot = (width - 2 * side) / max(len(bars), 1)
    bar_width = max(slot - gap, 1.0)
    parts = [
        f'<svg class="chart {css_class}" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" data-scale="{_number(scale)}" '
        f'data-plot-height="{_px(plot_height)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{side}" y1="{_px(top + plot_height)}" x2="{width - side}" '
        f'y2="{_px(top + plot_height)}" stroke="#94a3b8" stroke-width="1"/>',
    ]
    for index, bar in enumerate(bars):
        tone = bar.tone if bar.tone in TONES else "primary"
        bar_height = plot_height * bar.value / scale if scale else 0.0
        x = side + index * slot + (slot - bar_width) / 2
        y = top + plot_height - bar_height
        centre = x + bar_width / 2
        shown = bar.display if bar.display is not None else _number(bar.value)
        mark = (
            f'<g class="mark" data-label="{escape(bar.label)}" data-value="{_number(bar.value)}">'
            f"<title>{escape(bar.label)}: {escape(shown)}</title>"
            f'<rect class="bar tone-{tone}" x="{_px(x)}" y="{_px(y)}" width="{_px(bar_width)}" '
            f'height="{_px(bar_height)}" rx="2" fill="{_FALLBACK_FILL[tone]}"/>'
            f'<text class="value" x="{_px(centre)}" y="{_px(y - 4)}" text-anchor="middle" '
            f'font-size="11" fill="currentColor">{escape(shown)}</text>'
            f'<text class="label" x="{_px(centre)}" y="{_px(top + plot_height + 14)}" text-anchor="middle" '
            f'font-size="10" fill="currentColor">{escape(bar.label)}</text></g>'
        )
        if bar.link:
            mark = f'<a href="{escape(bar.link)}">{mark}</a>'
        parts.append(mark)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every piece of text above is escaped)


def histogram(bins: Sequence[Bar], *, title: str, width: int = 480, height: int = 200) -> SafeString:
    """Adjacent bars: one per bin, labelled with the bin's range."""
    return bar_chart(bins, title=title, width=width, height=height, gap=2.0, css_class="chart-histogram")


@dataclass(frozen=True)
class Point:
    label: str
    value: float
    tone: str = "primary"


def line_chart(
    points: Sequence[Point],
    *,
    title: str,
    y_min: float = 0.0,
    y_max: float = 100.0,
    width: int = 640,
    height: int = 220,
    guides: Sequence[tuple[float, str]] = (),
    label_every: int = 15,
) -> SafeString:
    """A line through ``points`` (in order, evenly spaced), a dot per point coloured by its tone;
    ``guides`` are horizontal lines (value, label), e.g. the risk bands' thresholds."""
    top, bottom, left, right = 12.0, 28.0, 30.0, 8.0
    plot_width, plot_height = width - left - right, height - top - bottom
    span = (y_max - y_min) or 1.0

    def y_of(value: float) -> float:
        return top + plot_height * (1 - (min(max(value, y_min), y_max) - y_min) / span)

    def x_of(index: int) -> float:
        return left + (plot_width * index / (len(points) - 1) if len(points) > 1 else plot_width / 2)

    parts = [
        f'<svg class="chart chart-line" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" data-y-min="{_number(y_min)}" data-y-max="{_number(y_max)}" '
        f'data-plot-top="{_px(top)}" data-plot-height="{_px(plot_height)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
    ]
    for value, label in guides:
        y = y_of(value)
        parts.append(
            f'<line class="guide" x1="{left}" y1="{_px(y)}" x2="{width - right}" y2="{_px(y)}" '
            f'stroke="#cbd5e1" stroke-dasharray="3 3"/><text class="guide-label" x="{left - 4}" '
            f'y="{_px(y + 3)}" text-anchor="end" font-size="9" fill="currentColor">{escape(label)}</text>'
        )
    if points:
        path = " ".join(f"{_px(x_of(i))},{_px(y_of(p.value))}" for i, p in enumerate(points))
        parts.append(
            f'<polyline class="line" points="{path}" fill="none" stroke="#7c3aed" stroke-width="2"/>'
        )
    for index, point in enumerate(points):
        tone = point.tone if point.tone in TONES else "primary"
        x, y = x_of(index), y_of(point.value)
        parts.append(
            f'<circle class="point tone-{tone}" cx="{_px(x)}" cy="{_px(y)}" r="2.5" '
            f'fill="{_FALLBACK_FILL[tone]}" data-label="{escape(point.label)}" '
            f'data-value="{_number(point.value)}">'
            f"<title>{escape(point.label)}: {_number(point.value)}</title></circle>"
        )
        last = index == len(points) - 1
        # Every label_every-th point is labelled, and the last unless a label sits just before it.
        if (index % label_every == 0 and len(points) - 1 - index >= label_every / 2) or last:
            parts.append(
                f'<text class="label" x="{_px(x)}" y="{_px(top + plot_height + 16)}" text-anchor="middle" '
                f'font-size="9" fill="currentColor">{escape(point.label)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every piece of text above is escaped)
