"""Who gets a task: a pure decision over the team's skills, capacity and open load (no ORM, no I/O).

1. The pool is the active managers with the required skill; if none has it, every active manager (the
   assignment then counts as a skill mismatch).
2. A preferred manager (the customer's own success manager, or the one a sales handoff names) gets the
   task when they are in the pool and their free capacity covers the task's effort. With
   ``preferred_needs_skill=False`` (the handoff's check-in: they own the account) any active preferred
   manager with the capacity gets it, skilled or not.
3. Otherwise the manager with the most free capacity (weekly capacity minus the effort of their open
   tasks, in hours); ties go to the lower utilisation, then the fewer open tasks, then the address.

Vitally's baselines assign by fewest accounts or least revenue, blind to skill and to how much work each
account carries; ``bench/operations_workflows.py`` compares the three on the same stream of tasks.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ManagerLoad:
    manager_id: int
    email: str
    skills: frozenset[str]
    capacity_hours: float
    open_hours: float = 0.0
    open_tasks: int = 0

    @property
    def free_hours(self) -> float:
        return self.capacity_hours - self.open_hours

    @property
    def utilisation(self) -> float:
        return self.open_hours / self.capacity_hours if self.capacity_hours > 0 else float("inf")

    def with_task(self, effort_hours: float) -> ManagerLoad:
        return replace(self, open_hours=self.open_hours + effort_hours, open_tasks=self.open_tasks + 1)


@dataclass(frozen=True)
class Assignment:
    manager_id: int | None
    email: str | None
    #: None when no skill was required
    skill_matched: bool | None
    #: preferred, most_free_capacity, no_skilled_manager, no_managers
    reason: str


def choose_assignee(
    managers: Sequence[ManagerLoad],
    *,
    required_skill: str | None,
    effort_hours: float,
    preferred_email: str | None = None,
    preferred_needs_skill: bool = True,
    exclude_ids: Collection[int] = (),
) -> Assignment:
    candidates = [manager for manager in managers if manager.manager_id not in exclude_ids] or list(managers)
    if not candidates:
        return Assignment(None, None, None if required_skill is None else False, "no_managers")
    skilled = [m for m in candidates if required_skill is None or required_skill in m.skills]
    pool = skilled or candidates
    matched = None if required_skill is None else bool(skilled)
    preferred = (preferred_email or "").strip().lower()
    if preferred:
        for manager in pool if preferred_needs_skill else candidates:
            if manager.email == preferred and manager.free_hours >= effort_hours:
                has_skill = None if required_skill is None else required_skill in manager.skills
                return Assignment(manager.manager_id, manager.email, has_skill, "preferred")
    best = min(pool, key=lambda m: (-m.free_hours, m.utilisation, m.open_tasks, m.email))
    return Assignment(
        best.manager_id, best.email, matched, "most_free_capacity" if skilled else "no_skilled_manager"
    )


def assign_many(
    managers: Sequence[ManagerLoad],
    tasks: Sequence[tuple[str | None, float, str | None]],
) -> tuple[list[Assignment], list[ManagerLoad]]:
    """Assign ``(required_skill, effort_hours, preferred_email)`` tasks one after the other, each seeing
    the load the earlier ones added. Returns the assignments and the loads after them."""
    loads = {manager.manager_id: manager for manager in managers}
    assignments = []
    for required_skill, effort_hours, preferred_email in tasks:
        assignment = choose_assignee(
            list(loads.values()),
            required_skill=required_skill,
            effort_hours=effort_hours,
            preferred_email=preferred_email,
        )
        if assignment.manager_id is not None:
            loads[assignment.manager_id] = loads[assignment.manager_id].with_task(effort_hours)
        assignments.append(assignment)
    return assignments, list(loads.values())
