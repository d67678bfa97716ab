"""The admin's first screen: the figures each app contributes, each a link to the list behind it.

An app registers a section from its ``apps.py`` (the platform names no domain):

    register_dashboard_section("risk", title="Who is at risk", render=risk_section, order=10)

``render(request)`` returns a ``Section``: figures (each with the changelist URL that lists what it
counts and the number of rows there, so a figure can be checked against its list), charts (inline
SVG from ``charts.py``) and optionally a table. Each section costs a few queries, whatever the data.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.safestring import SafeString

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Figure:
    label: str
    #: what the card shows (a count, an amount, a rate)
    value: str
    #: the changelist that lists what the figure is computed from
    link: str
    #: how many rows that changelist shows (equal to ``value`` when the figure is a count)
    count: int
    tone: str = "neutral"
    note: str = ""


@dataclass(frozen=True)
class Chart:
    title: str
    svg: SafeString
    note: str = ""


@dataclass(frozen=True)
class Table:
    headers: Sequence[str]
    #: each cell is text or safe HTML
    rows: Sequence[Sequence[object]]
    empty: str = "Nothing to show."


@dataclass(frozen=True)
class Section:
    figures: Sequence[Figure] = ()
    charts: Sequence[Chart] = ()
    table: Table | None = None
    #: "wide" sections span the whole row
    wide: bool = False


@dataclass(frozen=True)
class DashboardSection:
    key: str
    title: str
    render: Callable[..., Section]
    order: int = 100


@dataclass
class RenderedSection:
    key: str
    title: str
    section: Section = field(default_factory=Section)
    error: str = ""


_sections: dict[str, DashboardSection] = {}
_lock = threading.Lock()


def register_dashboard_section(
    key: str, *, title: str, render: Callable[..., Section], order: int = 100
) -> None:
    with _lock:
        _sections[key] = DashboardSection(key=key, title=title, render=render, order=order)


def dashboard_sections() -> list[DashboardSection]:
    with _lock:
        return sorted(_sections.values(), key=lambda section: (section.order, section.key))


def changelist_url(model_label: str, **filters) -> str:
    """``admin:<app>_<model>_changelist`` with ``filters`` as its query string (lists as a,b,c)."""
    app_label, model_name = model_label.split(".")
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    query = {
        name: ",".join(map(str, value)) if isinstance(value, list | tuple) else value
        for name, value in filters.items()
    }
    return f"{url}?{urlencode(query)}" if query else url


def render_sections(request) -> list[RenderedSection]:
    rendered = []
    for section in dashboard_sections():
        try:
            rendered.append(RenderedSection(section.key, section.title, section.render(request)))
        except Exception:
            # One failing section must not take the back-office's first screen down with it.
            logger.exception("dashboard section %s failed", section.key)
            rendered.append(RenderedSection(section.key, section.title, error="This section failed to load."))
    return rendered


def dashboard_callback(request, context: dict) -> dict:
    """unfold's DASHBOARD_CALLBACK: the sections for templates/admin/dashboard.html."""
    context["dashboard_sections"] = render_sections(request)
    return context
