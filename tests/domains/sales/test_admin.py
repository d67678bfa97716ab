"""The sales back-office: the customer page's sales panel, the readiness model edited like a scorecard,
opportunities and milestones written through the services, plan tasks closed, handoffs shown to staff."""

from datetime import date
from decimal import Decimal

import pytest

from domains.sales import services
from domains.sales.models import (
    ExpansionReadiness,
    Handoff,
    Milestone,
    Opportunity,
    ReadinessModel,
    SuccessGoal,
    SuccessPlanTask,
)

from .conftest import events_of

pytestmark = pytest.mark.django_db

ADMIN = "/admin/sales"
MODELS = f"{ADMIN}/readinessmodel/"


@pytest.fixture
def handed_off(make_customer):
    make_customer(
        "cust_12345", health_score=80, adoption_rate=0.8, engagement_score=7.0, nps_score=40, arr=90000
    )
    handoff = services.handoff_complete(
        customer_id="cust_12345",
        deal_value=Decimal("150000"),
        contract_terms="3_year",
        key_stakeholders=["john.doe@company.com"],
        success_criteria=["roi_target"],
        sales_notes="Strong technical champion, budget confirmed",
        onboarding_start=date(2025, 12, 5),
        success_manager="sarah.smith@company.com",
        first_check_in=date(2025, 12, 12),
        handed_off_by="crm-sync",
    )
    services.opportunity_create(
        customer_id="cust_12345",
        type="upsell",
        product="premium_features",
        value_estimate=Decimal("50000"),
        probability=Decimal("0.75"),
        timeline="q1_2026",
    )
    for milestone in ("achieved_roi_target", "executive_sponsorship", "business_review_completed"):
        services.milestone_record(customer_id="cust_12345", milestone=milestone)
    return handoff


def test_the_customer_page_shows_the_sales_side(staff_client, handed_off):
    page = staff_client.get("/admin/customers/customer/cust_12345/change/")
    assert page.status_code == 200
    content = page.content.decode()
    assert "Sales: handoff, success plan and expansion" in content
    assert handed_off.handoff_id in content and "First check-in" in content and "2025-12-12" in content
    assert "Review the success criteria" in content
    assert "roi_target" in content and "Achieved" in content  # the goal, achieved by its milestone
    assert "premium_features" in content and "q1_2026" in content
    assert "Achieved the ROI target" in content and "Executive sponsorship secured" in content
    # Readiness with its factors and points: 72 under Default, three factors listed.
    assert "<strong>72</strong> of 100 under Default (threshold 70: ready)" in content
    assert "high_product_adoption" in content and "20.14" in content
    assert "last announced" in content
    # The baseline beside the current figures.
    assert "at handoff" in content
    # The confidential fields stay on the handoff's own page.
    assert "Strong technical champion" not in content


def test_the_handoff_page_shows_the_confidential_fields_to_staff(staff_client, handed_off):
    page = staff_client.get(f"{ADMIN}/handoff/{handed_off.pk}/change/").content.decode()
    assert "john.doe@company.com" in page and "Strong technical champion" in page
    assert staff_client.get(f"{ADMIN}/handoff/add/").status_code == 403


def test_every_sales_list_loads(staff_client, handed_off):
    for model in (
        "handoff",
        "successplan",
        "successplantask",
        "opportunity",
        "milestone",
        "readinessmodel",
        "expansionreadiness",
    ):
        response = staff_client.get(f"{ADMIN}/{model}/")
        assert response.status_code == 200, model
    plan = handed_off.success_plan
    assert staff_client.get(f"{ADMIN}/successplan/{plan.pk}/change/").status_code == 200
    state = ExpansionReadiness.objects.get()
    detail = staff_client.get(f"{ADMIN}/expansionreadiness/{state.pk}/change/").content.decode()
    assert "high_product_adoption: 0.8, 0.8, 20.14" in detail


def _model_form(factors) -> dict:
    form = {
        "name": "Enterprise focus",
        "description": "",
        "threshold": "60",
        "rearm_margin": "5",
        "top_factors": "2",
        "strong_share": "0.5",
        "factors-TOTAL_FORMS": str(len(factors)),
        "factors-INITIAL_FORMS": "0",
        "factors-MIN_NUM_FORMS": "1",
        "factors-MAX_NUM_FORMS": "1000",
    }
    for index, factor in enumerate(factors):
        for name, value in factor.items():
            form[f"factors-{index}-{name}"] = value
    return form


def test_a_readiness_model_is_edited_with_its_factors(
    staff_client, handed_off, django_capture_on_commit_callbacks
):
    listing = staff_client.get(MODELS).content.decode()
    assert "Default" in listing and "adoption (25)" in listing

    invalid = _model_form(
        [{"factor": "health", "weight": "1", "normalisation": "range", "window_days": "180"}]
    )
    refused = staff_client.post(f"{MODELS}add/", invalid)
    assert "A range normalisation needs a minimum and a maximum." in refused.content.decode()
    assert staff_client.post(f"{MODELS}add/", _model_form([])).status_code == 200
    assert not ReadinessModel.objects.filter(name="Enterprise focus").exists()

    factors = [
        {
            "factor": "health",
            "weight": "3",
            "normalisation": "range",
            "min_value": "0",
            "max_value": "100",
            "window_days": "180",
        },
        {
            "factor": "milestones",
            "weight": "1",
            "normalisation": "target",
            "target_value": "2",
            "window_days": "30",
            "label": "fresh_wins",
        },
    ]
    created = staff_client.post(f"{MODELS}add/", _model_form(factors))
    assert created.status_code == 302, created.content.decode()[:3000]
    model = ReadinessModel.objects.get(name="Enterprise focus")
    assert not model.is_active and model.factors.count() == 2

    # Activated, it scores: (3*0.8 + 1*1) / 4 = 85 (the three milestones are from today).
    with django_capture_on_commit_callbacks() as callbacks:
        staff_client.post(MODELS, {"action": "activate", "_selected_action": [model.pk]}, follow=True)
    assert len(callbacks) == 1  # every customer's readiness is re-evaluated in the background
    assert ReadinessModel.objects.get(is_active=True) == model
    [outcome] = services.readiness_evaluate(customer_ids=["cust_12345"])
    assert outcome.readiness.score == 85
    assert outcome.readiness.readiness_factors == ["strong_health_score", "fresh_wins"]


def test_opportunities_are_written_through_the_services(staff_client, handed_off):
    form = {
        "customer": "cust_12345",
        "type": "cross_sell",
        "product": "analytics_addon",
        "value_estimate": "20000",
        "probability": "0.4",
        "timeline": "2026-Q3",
        "status": "open",
    }
    assert staff_client.post(f"{ADMIN}/opportunity/add/", form).status_code == 302
    added = Opportunity.objects.get(product="analytics_addon")
    assert added.timeline == "q3_2026" and str(added.timeline_end) == "2026-09-30"
    assert len(events_of("opportunity_created")) == 2

    bad = dict(form, timeline="someday")
    assert "is not a quarter" in staff_client.post(f"{ADMIN}/opportunity/add/", bad).content.decode()

    response = staff_client.post(
        f"{ADMIN}/opportunity/", {"action": "mark_won", "_selected_action": [added.pk]}, follow=True
    )
    assert "1 open opportunities marked won" in response.content.decode()
    added.refresh_from_db()
    assert added.status == "won" and len(events_of("opportunity_won")) == 1

    closed_edit = dict(form, customer="cust_12345", product="renamed", status="won")
    refused = staff_client.post(f"{ADMIN}/opportunity/{added.pk}/change/", closed_edit)
    assert "it does not change" in refused.content.decode()
    assert Opportunity.objects.get(pk=added.pk).product == "analytics_addon"


def test_milestones_are_recorded_and_removed_through_the_services(staff_client, handed_off):
    SuccessGoal.objects.filter(criterion="roi_target").update(status="open", achieved_at=None, milestone=None)
    Milestone.objects.filter(milestone="achieved_roi_target").delete()
    form = {
        "customer": "cust_12345",
        "milestone": "achieved_roi_target",
        "achieved_at_0": "2026-11-30",
        "achieved_at_1": "10:00:00",
        "note": "QBR",
    }
    assert staff_client.post(f"{ADMIN}/milestone/add/", form).status_code == 302
    assert SuccessGoal.objects.get(criterion="roi_target").status == "achieved"
    assert Milestone.objects.get(milestone="achieved_roi_target").recorded_by == "operator"
    twice = staff_client.post(f"{ADMIN}/milestone/add/", form)
    assert twice.status_code == 200 and Milestone.objects.filter(milestone="achieved_roi_target").count() == 1

    milestone = Milestone.objects.get(milestone="achieved_roi_target")
    staff_client.post(f"{ADMIN}/milestone/{milestone.pk}/delete/", {"post": "yes"})
    assert not Milestone.objects.filter(pk=milestone.pk).exists()
    assert SuccessGoal.objects.get(criterion="roi_target").status == "open"


def test_plan_tasks_are_closed_from_the_task_list(staff_client, handed_off):
    tasks = list(SuccessPlanTask.objects.all())
    response = staff_client.post(
        f"{ADMIN}/successplantask/",
        {"action": "mark_done", "_selected_action": [task.pk for task in tasks]},
        follow=True,
    )
    assert "3 tasks marked done" in response.content.decode()
    assert set(SuccessPlanTask.objects.values_list("status", flat=True)) == {"done"}
    # Every task done and the only goal achieved by its milestone: the plan is completed.
    assert Handoff.objects.get().success_plan.status == "completed"
