"""Named sets of customers that apps define (``newly at risk``, ``open churn-risk episode``, …): the
customer list filters by them, so a dashboard figure can link to exactly the customers it counts.

    register_customer_set("churn_episode_open", title="Open churn-risk episode", customer_ids=open_ids)

``customer_ids()`` returns the ids (or a queryset of them); it runs when the list is filtered by it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class CustomerSet:
    key: str
    title: str
    customer_ids: Callable[[], Iterable[str]]
    order: int = 100


_sets: dict[str, CustomerSet] = {}
_lock = threading.Lock()

#: the customer list's query parameter
PARAMETER = "customer_set"


def register_customer_set(
    key: str, *, title: str, customer_ids: Callable[[], Iterable[str]], order: int = 100
) -> None:
    with _lock:
        _sets[key] = CustomerSet(key=key, title=title, customer_ids=customer_ids, order=order)


def customer_sets() -> list[CustomerSet]:
    with _lock:
        return sorted(_sets.values(), key=lambda item: (item.order, item.key))


def customer_set_get(key: str) -> CustomerSet | None:
    with _lock:
        return _sets.get(key)
