"""Assignment by skill and free capacity: the pure rule, and through the task service with real managers
and their open load."""

from datetime import timedelta

import pytest
from django.utils import timezone

from domains.operations import services
from domains.operations.assignment import ManagerLoad, assign_many, choose_assignee
from domains.operations.models import TaskKind, TaskSource

SARAH = ManagerLoad(
    1, "sarah@example.com", frozenset({"health_recovery"}), 30.0, open_hours=25.0, open_tasks=9
)
LI = ManagerLoad(
    2, "li@example.com", frozenset({"health_recovery", "renewals"}), 30.0, open_hours=10.0, open_tasks=3
)
OMAR = ManagerLoad(3, "omar@example.com", frozenset({"technical"}), 40.0, open_hours=5.0, open_tasks=2)


def test_the_skilled_manager_with_most_free_capacity_wins():
    chosen = choose_assignee([SARAH, LI, OMAR], required_skill="health_recovery", effort_hours=1)
    assert (chosen.email, chosen.skill_matched, chosen.reason) == (
        "li@example.com",
        True,
        "most_free_capacity",
    )


def test_without_a_skilled_manager_the_freest_one_is_a_mismatch():
    chosen = choose_assignee([SARAH, LI, OMAR], required_skill="executive_relations", effort_hours=1)
    assert (chosen.email, chosen.skill_matched, chosen.reason) == (
        "omar@example.com",
        False,
        "no_skilled_manager",
    )


def test_no_skill_required_means_no_match_to_count():
    chosen = choose_assignee([SARAH, LI, OMAR], required_skill=None, effort_hours=1)
    assert (chosen.email, chosen.skill_matched) == ("omar@example.com", None)


def test_the_preferred_manager_wins_when_skilled_and_free_enough():
    chosen = choose_assignee(
        [SARAH, LI], required_skill="health_recovery", effort_hours=5, preferred_email="SARAH@example.com"
    )
    assert (chosen.email, chosen.reason) == ("sarah@example.com", "preferred")
    # 6 hours do not fit in Sarah's 5 free ones: the rule decides instead
    chosen = choose_assignee(
        [SARAH, LI], required_skill="health_recovery", effort_hours=6, preferred_email="sarah@example.com"
    )
    assert chosen.email == "li@example.com"
    # a preferred manager without the skill is not chosen over a skilled one
    chosen = choose_assignee(
        [SARAH, OMAR], required_skill="health_recovery", effort_hours=1, preferred_email="omar@example.com"
    )
    assert chosen.email == "sarah@example.com"


def test_ties_go_to_lower_utilisation_then_fewer_tasks():
    a = ManagerLoad(1, "a@example.com", frozenset(), 20.0, open_hours=10.0, open_tasks=1)
    b = ManagerLoad(2, "b@example.com", frozenset(), 40.0, open_hours=30.0, open_tasks=1)  # same 10 h free
    assert (
        choose_assignee([b, a], required_skill=None, effort_hours=1).email == "a@example.com"
    )  # 50 % < 75 %
    c = ManagerLoad(3, "c@example.com", frozenset(), 20.0, open_hours=10.0, open_tasks=4)
    assert choose_assignee([c, a], required_skill=None, effort_hours=1).email == "a@example.com"


def test_an_excluded_manager_is_passed_over_unless_alone():
    assert (
        choose_assignee([LI, OMAR], required_skill=None, effort_hours=1, exclude_ids=[3]).email
        == "li@example.com"
    )
    assert (
        choose_assignee([OMAR], required_skill=None, effort_hours=1, exclude_ids=[3]).email
        == "omar@example.com"
    )
    assert choose_assignee([], required_skill="x", effort_hours=1).reason == "no_managers"


def test_a_stream_of_tasks_spreads_by_the_load_it_adds():
    a = ManagerLoad(1, "a@example.com", frozenset({"s"}), 10.0)
    b = ManagerLoad(2, "b@example.com", frozenset({"s"}), 30.0)
    assignments, loads = assign_many([a, b], [("s", 4.0, None)] * 8)
    counts = {
        email: sum(1 for x in assignments if x.email == email) for email in ("a@example.com", "b@example.com")
    }
    assert counts == {"a@example.com": 2, "b@example.com": 6}  # both end at 2 h free
    assert {load.email: load.free_hours for load in loads} == {"a@example.com": 2.0, "b@example.com": 6.0}


@pytest.mark.django_db
def test_the_service_assigns_by_stored_skills_and_open_load(team, make_customer):
    customer = make_customer("cust_assign1")
    due = timezone.now() + timedelta(days=1)
    # Li carries 25 hours of open work already, Omar none: both can handle escalations
    services.task_create(
        customer_id=customer.pk,
        spec=services.TaskSpec(kind=TaskKind.FOLLOW_UP, title="Big one", due_at=due, effort_hours=25),
        source=TaskSource.MANUAL,
        preferred_email="li.wei@example.com",
    )
    task = services.task_create(
        customer_id=customer.pk,
        spec=services.TaskSpec(
            kind=TaskKind.ESCALATION,
            title="Escalate",
            due_at=due,
            required_skill="escalation",
            effort_hours=2,
        ),
        source=TaskSource.ESCALATION,
    )
    assert task.assignee == team["omar"] and task.skill_matched is True and task.assigned_at is not None
    # nobody has "renewals" but Li; an unknown skill counts as none
    renewal = services.task_create(
        customer_id=customer.pk,
        spec=services.TaskSpec(
            kind=TaskKind.CHECK_IN, title="Renewal", due_at=due, required_skill="renewals"
        ),
        source=TaskSource.MANUAL,
    )
    assert renewal.assignee == team["li"] and renewal.skill_matched is True
    unknown = services.task_create(
        customer_id=customer.pk,
        spec=services.TaskSpec(kind=TaskKind.CHECK_IN, title="?", due_at=due, required_skill="no_such_skill"),
        source=TaskSource.MANUAL,
    )
    assert unknown.required_skill is None and unknown.skill_matched is None


@pytest.mark.django_db
def test_an_inactive_manager_gets_nothing_and_a_source_key_creates_once(team, make_customer):
    customer = make_customer("cust_assign2")
    team["omar"].is_active = False
    team["omar"].save()
    spec = services.TaskSpec(
        kind=TaskKind.CHECK_IN,
        title="Once",
        due_at=timezone.now(),
        required_skill="technical",
        source_key="k:1",
    )
    first = services.task_create(customer_id=customer.pk, spec=spec, source=TaskSource.MANUAL)
    second = services.task_create(customer_id=customer.pk, spec=spec, source=TaskSource.MANUAL)
    assert first.pk == second.pk and first.assignee != team["omar"] and first.skill_matched is False
