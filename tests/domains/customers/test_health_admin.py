"""The back-office: scorecards with their measures and bands, the customer's health history."""

import pytest

from domains.customers import health, services
from domains.customers.models import Scorecard

pytestmark = pytest.mark.django_db

SCORECARDS = "/admin/customers/scorecard/"


def scorecard_form(bands):
    form = {
        "name": "Onboarding",
        "description": "",
        "lifecycle_stage": "onboarding",
        "segment": "",
        "is_active": "on",
        "measures-TOTAL_FORMS": "1",
        "measures-INITIAL_FORMS": "0",
        "measures-MIN_NUM_FORMS": "1",
        "measures-MAX_NUM_FORMS": "1000",
        "measures-0-measure": "login_frequency",
        "measures-0-weight": "3",
        "measures-0-normalisation": "target",
        "measures-0-direction": "higher_is_better",
        "measures-0-target_value": "10",
        "bands-TOTAL_FORMS": str(len(bands)),
        "bands-INITIAL_FORMS": "0",
        "bands-MIN_NUM_FORMS": "1",
        "bands-MAX_NUM_FORMS": "1000",
    }
    for index, (bound, level) in enumerate(bands):
        form[f"bands-{index}-min_score"] = str(bound)
        form[f"bands-{index}-risk_level"] = level
    return form


def test_scorecards_are_edited_with_their_measures_and_bands(staff_client):
    listing = staff_client.get(SCORECARDS).content.decode()
    assert "Default" in listing and "adoption_rate (25)" in listing

    refused = staff_client.post(f"{SCORECARDS}add/", scorecard_form([(60, "low")]))
    assert refused.status_code == 200 and "One band must start at 0" in refused.content.decode()

    created = staff_client.post(f"{SCORECARDS}add/", scorecard_form([(60, "low"), (0, "high")]))
    assert created.status_code == 302, created.content.decode()[:2000]
    card = Scorecard.objects.get(name="Onboarding")
    assert [(m.measure, m.weight, m.target_value) for m in card.measures.all()] == [
        ("login_frequency", 3, 10)
    ]
    assert list(card.bands.values_list("min_score", "risk_level")) == [(60, "low"), (0, "high")]

    default = Scorecard.objects.get(is_default=True)
    assert staff_client.post(f"{SCORECARDS}{default.pk}/delete/").status_code == 403


def test_an_invalid_measure_is_refused(staff_client):
    form = scorecard_form([(0, "low")])
    form["measures-0-normalisation"] = "range"  # without minimum and maximum
    response = staff_client.post(f"{SCORECARDS}add/", form)
    assert response.status_code == 200
    assert "A range normalisation needs a minimum and a maximum." in response.content.decode()
    assert not Scorecard.objects.filter(name="Onboarding").exists()


def test_recompute_action_enqueues_the_nightly_job(staff_client, django_capture_on_commit_callbacks):
    default = Scorecard.objects.get(is_default=True)
    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_client.post(
            SCORECARDS, {"action": "recompute_health_now", "_selected_action": [default.pk]}, follow=True
        )
    assert "will be recomputed by the bulk worker" in response.content.decode()
    assert len(callbacks) == 1


def test_customer_page_shows_signals_and_health_history(staff_client):
    customer = services.customer_create(customer_id="cust_admin", data={"name": "Shown", "health_score": 60})
    health.health_signals_record(
        items=[health.SignalInput("cust_admin", {"login_frequency": 12.0, "nps": 40.0})]
    )
    page = staff_client.get(f"/admin/customers/customer/{customer.pk}/change/")
    assert page.status_code == 200
    content = page.content.decode()
    assert "login_frequency" in content and "Computed from new signals (Default)" in content
    assert "nps: 40, 0.70," in content  # raw, normalised, points
    assert "Initial score" in content
