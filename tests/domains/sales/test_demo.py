"""The demo seeder: realistic sales data over 90 days for the demo customers, idempotent."""

from datetime import timedelta

import pytest
from django.utils import timezone

from domains.customers.demo import seed_demo_customers
from domains.sales.demo import seed_demo_sales
from domains.sales.models import (
    ExpansionReadiness,
    Handoff,
    Milestone,
    Opportunity,
    SuccessGoal,
    SuccessPlanTask,
)

from .conftest import events_of

pytestmark = pytest.mark.django_db


def test_the_demo_is_alive_and_seeds_once():
    seed_demo_customers(customers=80)
    summary = seed_demo_sales()
    assert "handoffs" in summary and "announced expansion-ready" in summary
    handoffs, milestones, opportunities = (
        Handoff.objects.count(),
        Milestone.objects.count(),
        Opportunity.objects.count(),
    )
    assert handoffs >= 40 and milestones >= 60 and opportunities >= 30
    oldest = timezone.now() - timedelta(days=91)
    assert Handoff.objects.filter(created_at__lt=oldest).count() == 0
    assert Handoff.objects.filter(created_at__lt=timezone.now() - timedelta(days=30)).exists()
    assert set(Opportunity.objects.values_list("status", flat=True)) == {"open", "won", "lost"}
    assert (
        SuccessPlanTask.objects.filter(status="done").exists()
        and SuccessPlanTask.objects.filter(status="open").exists()
    )
    assert SuccessGoal.objects.filter(status="achieved").exists()
    # Today's handoffs went through the service; every demo customer's readiness was evaluated.
    assert events_of("handoff_completed")
    assert ExpansionReadiness.objects.count() == 80
    announced = ExpansionReadiness.objects.filter(above_threshold=True).count()
    assert announced == len(events_of("expansion_ready")) > 0

    assert "0 handoffs, 0 milestones and 0 opportunities added for 0 customers" in seed_demo_sales()
    assert (Handoff.objects.count(), Milestone.objects.count(), Opportunity.objects.count()) == (
        handoffs,
        milestones,
        opportunities,
    )
    assert len(events_of("expansion_ready")) == announced
