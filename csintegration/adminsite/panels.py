"""Panels of the customer's page in the admin, contributed by each domain app.

The customers admin shows a customer's own data; every other app adds what it knows of that customer
(journey, handoff, opportunities, contracts, tasks, …) by registering a panel from its ``ready()``:

    register_customer_panel(
        "sales", title="Handoff and expansion", render=render_sales_panel, order=20
    )

``render(customer_id)`` returns safe HTML (build it with ``format_html``/``render_to_string``); it runs
on the admin's request, so it should cost a few queries at most.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.safestring import SafeString


@dataclass(frozen=True)
class CustomerPanel:
    key: str
    title: str
    render: Callable[[str], SafeString | str]
    order: int = 100


_panels: dict[str, CustomerPanel] = {}
_lock = threading.Lock()


def register_customer_panel(
    key: str, *, title: str, render: Callable[[str], SafeString | str], order: int = 100
) -> None:
    with _lock:
        _panels[key] = CustomerPanel(key=key, title=title, render=render, order=order)


def customer_panels() -> list[CustomerPanel]:
    with _lock:
        return sorted(_panels.values(), key=lambda panel: (panel.order, panel.key))
