"""Demo data, one seeder per app: ``seed_demo`` creates the platform's demo client and admin, then runs
each app's seeder (registered from its ``AppConfig.ready()``) in order. Seeders are idempotent."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: a seeder takes the command's options (``customers``: how many demo customers; ``demo_client_id``: the
#: demo OAuth client's) and returns a summary
Seeder = Callable[..., str]


@dataclass(frozen=True)
class DemoSeeder:
    name: str
    seed: Seeder
    #: lower runs first (customers seed at 10; apps that need customers come after)
    order: int = 100


_seeders: dict[str, DemoSeeder] = {}
_lock = threading.Lock()


def register_demo_seeder(name: str, seed: Seeder, *, order: int = 100) -> None:
    with _lock:
        _seeders[name] = DemoSeeder(name=name, seed=seed, order=order)


def demo_seeders() -> list[DemoSeeder]:
    with _lock:
        return sorted(_seeders.values(), key=lambda seeder: (seeder.order, seeder.name))


def run_demo_seeders(**options: Any) -> list[tuple[str, str]]:
    """Run every seeder; returns (name, summary) pairs."""
    return [(seeder.name, seeder.seed(**options)) for seeder in demo_seeders()]
