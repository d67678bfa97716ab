"""Writes of the CS team: success managers, and the daily snapshot of the team's performance."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from .. import selectors
from ..conf import conf
from ..models import PerformanceSnapshot, Skill, SuccessManager


@transaction.atomic
def manager_create(
    *,
    email: str,
    skills: Sequence[str] = (),
    weekly_capacity_hours: float = 30.0,
    username: str | None = None,
    first_name: str = "",
    last_name: str = "",
) -> SuccessManager:
    """A success manager and their staff user (without a usable password: they sign in once an admin has
    set one and enrolled their second factor). Skills that do not exist yet are created."""
    email = email.strip().lower()
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(
        username=username or email.split("@", 1)[0],
        defaults={"email": email, "is_staff": True, "first_name": first_name, "last_name": last_name},
    )
    if not user.password:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    manager = SuccessManager(user=user, email=email, weekly_capacity_hours=weekly_capacity_hours)
    manager.full_clean(exclude=["skills"])
    manager.save()
    for key in skills:
        skill, _ = Skill.objects.get_or_create(key=key, defaults={"name": key.replace("_", " ").capitalize()})
        manager.skills.add(skill)
    return manager


def performance_windows() -> list[int]:
    windows = []
    for raw in conf.OPERATIONS_PERFORMANCE_SNAPSHOT_WINDOWS:
        try:
            days = int(raw)
        except (TypeError, ValueError):
            continue
        if 1 <= days <= 365:
            windows.append(days)
    return sorted(set(windows))


@transaction.atomic
def performance_snapshots_record(*, as_of: datetime | None = None) -> list[PerformanceSnapshot]:
    """Keep the figures of ``GET /performance`` for each window of
    ``OPERATIONS_PERFORMANCE_SNAPSHOT_WINDOWS`` ending at ``as_of`` (the start of today, UTC, by default:
    the last full day). Running it twice for the same moment replaces the figures."""
    as_of = as_of or timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    snapshots = []
    for days in performance_windows():
        figures = selectors.team_performance(window_days=days, end=as_of)
        figures["window"] = {key: _jsonable(value) for key, value in figures["window"].items()}
        snapshot, _ = PerformanceSnapshot.objects.update_or_create(
            as_of=as_of, window_days=days, defaults={"figures": figures}
        )
        snapshots.append(snapshot)
    return snapshots


def _jsonable(value):
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value
