"""Fixtures of the operations tests: API clients with the operations scopes, customers, a CS team, a way to
run queued steps in the test's own thread, and a stand-in for the marketing app's public functions."""

from __future__ import annotations

import importlib
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from domains.customers import services as customer_services
from domains.operations import services
from domains.operations.models import StepStatus, WorkflowStep
from tests.celery_support import celery_test_app, celery_worker  # noqa: F401  (fixtures)

from . import fake_marketing as fake_marketing_module

OPS_SCOPES = "operations:read operations:write"


@pytest.fixture(autouse=True)
def operations_defaults(request):
    """The skills, playbooks, templates and rules the data migration creates. A transactional test of
    another app flushes them; they are put back (idempotently) before each test that uses the database."""
    marker = request.node.get_closest_marker("django_db")
    uses_db = marker is not None or {"db", "transactional_db"} & set(request.fixturenames)
    if not uses_db:
        return
    transactional = marker is not None and bool(
        marker.kwargs.get("transaction") or (marker.args and marker.args[0])
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    from django.apps import apps

    importlib.import_module("domains.operations.migrations.0002_defaults").create_defaults(apps, None)


BASE = "/api/v1/cs-ops"


@pytest.fixture
def ops_api(api):
    """``ops_api()``: an APIClient whose token has operations:read and operations:write (or ``scopes``)."""

    def _make(scopes: str = OPS_SCOPES, **kwargs):
        return api(scopes=scopes, **kwargs)

    return _make


@pytest.fixture
def make_customer(db):
    def _make(customer_id: str = "cust_ops1", **data):
        data.setdefault("name", "Acme Analytics")
        data.setdefault("success_manager", "sarah.smith@example.com")
        return customer_services.customer_create(customer_id=customer_id, data=data)

    return _make


@pytest.fixture
def make_manager(db):
    def _make(email: str, skills=(), capacity: float = 30.0, **kwargs):
        return services.manager_create(email=email, skills=skills, weekly_capacity_hours=capacity, **kwargs)

    return _make


@pytest.fixture
def team(make_manager):
    """Three managers: Sarah (recovery, onboarding), Li (executive relations, escalation, renewals) and Omar
    (technical, adoption training, escalation)."""
    return {
        "sarah": make_manager("sarah.smith@example.com", ["health_recovery", "onboarding"], 30),
        "li": make_manager("li.wei@example.com", ["executive_relations", "escalation", "renewals"], 30),
        "omar": make_manager("omar.haddad@example.com", ["technical", "adoption_training", "escalation"], 20),
    }


def drain(*, resume: bool = True, rounds: int = 50) -> list[str]:
    """Run every queued step in this thread, as workers would, until nothing is left to run; with
    ``resume`` also the retries (as beat would, as if their backoff had passed). Returns the outcomes."""
    outcomes = []
    for _ in range(rounds):
        queued = list(
            WorkflowStep.objects.filter(status=StepStatus.QUEUED).order_by("pk").values_list("pk", flat=True)
        )
        if not queued and resume:
            stats = services.steps_resume_stalled(now=timezone.now() + timedelta(days=1))
            queued = stats.step_ids
        if not queued:
            return outcomes
        outcomes += [services.step_execute(step_id=step_id) for step_id in queued]
    raise AssertionError(f"steps still queued after {rounds} rounds: {outcomes[-10:]}")


@pytest.fixture
def fake_marketing(monkeypatch):
    """The marketing app's public functions, as a small fake, for as long as the test runs."""
    import domains.marketing

    fake_marketing_module.reset()
    monkeypatch.setitem(sys.modules, "domains.marketing.services", fake_marketing_module)
    monkeypatch.setattr(domains.marketing, "services", fake_marketing_module, raising=False)
    return fake_marketing_module


@pytest.fixture
def no_marketing(monkeypatch):
    """The marketing app offers nothing (as in a tree where it is not built yet)."""
    import domains.marketing

    monkeypatch.setitem(sys.modules, "domains.marketing.services", None)  # import raises ImportError
    monkeypatch.delattr(domains.marketing, "services", raising=False)
