"""The admin's sidebar, grouped by what CS staff do; each app places its own admin pages in a group.

The platform names the groups; an app adds its pages from its ``admin.py``:

    register_navigation_item("revenue", "sales.handoff", title="Handoffs", icon="handshake", order=10)

``sidebar_navigation(request)`` is unfold's ``SIDEBAR["navigation"]``: it keeps the pages that are
registered on the site and that the user may view, in the groups' order.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from django.apps import apps
from django.urls import NoReverseMatch, reverse

#: (key, title) of the sidebar's groups, in their order
GROUPS: tuple[tuple[str, str], ...] = (
    ("customers", "Customers"),
    ("revenue", "Revenue"),
    ("product", "Product"),
    ("operations", "Operations"),
    ("integrations", "Integrations"),
    ("security", "Security"),
    ("schedules", "Schedules"),
)


@dataclass(frozen=True)
class NavigationItem:
    group: str
    #: "app_label.model_name" of a model registered on the admin site
    model: str
    title: str
    icon: str = "list"
    order: int = 100


_items: dict[tuple[str, str], NavigationItem] = {}
_lock = threading.Lock()


def register_navigation_item(
    group: str, model: str, *, title: str, icon: str = "list", order: int = 100
) -> None:
    if group not in dict(GROUPS):
        raise ValueError(
            f"Unknown admin navigation group {group!r}; the groups are {[g for g, _ in GROUPS]}."
        )
    with _lock:
        _items[(group, model)] = NavigationItem(group=group, model=model, title=title, icon=icon, order=order)


def navigation_items() -> list[NavigationItem]:
    with _lock:
        return sorted(_items.values(), key=lambda item: (item.group, item.order, item.title))


def _allowed_link(request, item: NavigationItem) -> str | None:
    from django.contrib import admin

    app_label, model_name = item.model.split(".")
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        return None
    model_admin = admin.site._registry.get(model)
    if model_admin is None or not model_admin.has_view_or_change_permission(request):
        return None
    try:
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    except NoReverseMatch:
        return None


def sidebar_navigation(request) -> list[dict]:
    """unfold's sidebar: the dashboard, then each group with the pages this user may open."""
    navigation = [
        {
            "title": "Back-office",
            "items": [{"title": "Dashboard", "icon": "dashboard", "link": reverse("admin:index")}],
        }
    ]
    by_group: dict[str, list[dict]] = {}
    for item in navigation_items():
        link = _allowed_link(request, item)
        if link is not None:
            by_group.setdefault(item.group, []).append({"title": item.title, "icon": item.icon, "link": link})
    for key, title in GROUPS:
        if by_group.get(key):
            navigation.append({"title": title, "separator": True, "items": by_group[key]})
    return navigation
