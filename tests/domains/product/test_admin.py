"""The back-office: features with adoption by segment, feedback ranked with its workflow, the product panel
of the customer's page, and the read-only pages of the usage and the aggregates."""

import re

import pytest

from domains.product import aggregates, services
from domains.product.aggregates import today_utc
from domains.product.models import Feature, Feedback, FeedbackTransition

from .conftest import record_usage

pytestmark = pytest.mark.django_db

FEATURES = "/admin/product/feature/"
FEEDBACK = "/admin/product/feedback/"


@pytest.fixture
def adoption_data(make_customer, make_feature):
    make_feature("feat_analytics", name="Analytics", adoption_threshold=2)
    make_feature("feat_reports", name="Reports")
    make_customer("cust_ent", segment="enterprise", health_score=80)
    make_customer("cust_small", segment="small_business", health_score=30)
    record_usage(
        ("cust_ent", "feat_analytics", today_utc(), 3), ("cust_small", "feat_reports", today_utc(), 1)
    )
    aggregates.profiles_catch_up()
    services.adoption_snapshots_take()


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_feature_list_shows_adoption_by_segment(staff_client, adoption_data):
    page = _text(staff_client.get(FEATURES)).lower()
    assert "enterprise" in page and "small business" in page and "health link" in page
    # The row's text, without the theme's markup (its checkbox alone is a long run of classes).
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    row = words[words.index("feat_analytics") :]
    assert "50%" in row[:400] and "100%" in row[:400]  # half of all; the whole enterprise segment


def test_the_feature_page_shows_figures_history_and_saves_through_the_service(
    staff_client, adoption_data, django_capture_on_commit_callbacks
):
    page = _text(staff_client.get(f"{FEATURES}feat_analytics/change/")).lower()
    assert "adoption by segment" in page and "all segments" in page
    assert "adoption and health score" in page and "no snapshot yet" not in page
    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_client.post(
            f"{FEATURES}feat_analytics/change/",
            {
                "name": "Analytics",
                "description": "",
                "adoption_threshold": "4",
                "window_days": "30",
                "is_active": "on",
            },
        )
    assert response.status_code == 302, _text(response)[:3000]
    feature = Feature.objects.get(pk="feat_analytics")
    assert feature.adoption_threshold == 4 and feature.recomputing
    assert len(callbacks) == 1  # the background recompute

    refused = staff_client.post(
        f"{FEATURES}add/",
        {"feature_id": "feat_long", "name": "Long", "adoption_threshold": "1", "window_days": "120"},
    )
    assert refused.status_code == 200 and "At most 90 days" in _text(refused)


def test_the_check_action_compares_with_the_raw_usage(staff_client, adoption_data):
    response = staff_client.post(
        FEATURES, {"action": "check_against_usage", "_selected_action": ["feat_analytics"]}, follow=True
    )
    assert "The figures of feat_analytics match the usage." in _text(response)


@pytest.fixture
def ranked_feedback(make_customer):
    big = make_customer("cust_big", arr=800000, health_score=30)
    small = make_customer("cust_small2", arr=5000, health_score=90)
    body = {
        "type": "feature_request",
        "category": "reporting",
        "business_impact": "critical_for_success",
        "description": "Secret roadmap wish",
    }
    low = services.feedback_submit(customer=small, data={**body, "priority": "low"}, submitted_by="client-a")
    high = services.feedback_submit(
        customer=big, data={**body, "priority": "critical"}, submitted_by="client-a"
    )
    return low, high


def test_the_feedback_list_is_ranked_and_the_workflow_is_moved_by_staff(staff_client, ranked_feedback):
    low, high = ranked_feedback
    page = _text(staff_client.get(FEEDBACK, {"open": "yes"}))
    assert page.index(high.feedback_id) < page.index(low.feedback_id)

    change = f"{FEEDBACK}{high.feedback_id}/change/"
    form = _text(staff_client.get(change))
    assert "Secret roadmap wish" in form and "how the score was reached" in form.lower()
    assert 'value="planned"' in form and 'value="delivered"' not in form

    refused = staff_client.post(change, {"move_to": "planned", "release": ""}, follow=True)
    assert "Planning a feedback commits it to a release" in _text(refused)
    assert Feedback.objects.get(pk=high.pk).status == "new"

    staff_client.post(change, {"move_to": "planned", "release": "2026.05"})
    saved = Feedback.objects.get(pk=high.pk)
    assert (saved.status, saved.committed_release, saved.committed_by) == (
        "planned",
        "2026.05",
        "staff:operator",
    )
    history = _text(staff_client.get(change))
    assert "2026.05" in history and "staff:operator" in history
    assert FeedbackTransition.objects.filter(feedback=high, to_status="planned").exists()
    assert staff_client.post(f"{FEEDBACK}{high.feedback_id}/delete/").status_code == 403


def test_staff_can_log_feedback(staff_client, make_customer):
    make_customer("cust_call", arr=20000, health_score=50)
    response = staff_client.post(
        f"{FEEDBACK}add/",
        {
            "customer": "cust_call",
            "type": "bug_report",
            "category": "mobile",
            "priority": "high",
            "business_impact": "efficiency_gain",
            "description": "Told us on the phone",
        },
    )
    assert response.status_code == 302, _text(response)[:3000]
    feedback = Feedback.objects.get(customer_id="cust_call")
    assert feedback.submitted_by == "staff:operator" and feedback.priority_score > 0


def test_the_customer_page_shows_adoption_and_feedback(staff_client, adoption_data, ranked_feedback):
    page = _text(staff_client.get("/admin/customers/customer/cust_ent/change/"))
    assert "Product adoption and feedback" in page
    assert "Adopted 1 of 2 active features" in page and "Analytics" in page
    page = _text(staff_client.get("/admin/customers/customer/cust_big/change/"))
    assert ranked_feedback[1].feedback_id in page


@pytest.mark.parametrize(
    "model",
    [
        "featureusage",
        "featureadoption",
        "adoptionprofile",
        "adoptioncell",
        "adoptionpopulation",
        "adoptionsnapshot",
        "adoptionsyncstate",
        "feedbacktransition",
    ],
)
def test_the_aggregates_are_shown_read_only(staff_client, adoption_data, model):
    assert staff_client.get(f"/admin/product/{model}/").status_code == 200
    assert staff_client.get(f"/admin/product/{model}/add/").status_code == 403
