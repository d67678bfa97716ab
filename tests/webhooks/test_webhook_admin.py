"""The webhook back-office behind the admin's second factor: lists, a delivery with its attempts, and the
rotate, replay and replay-since actions going through the same services as the API."""

import pytest
from django.utils import timezone

from webhooks import endpoints
from webhooks.models import Attempt, Delivery, DeliveryStatus, Message, WebhookEndpoint

pytestmark = pytest.mark.django_db
PASSWORD = "correct-Horse-battery-9"


@pytest.fixture
def failed_delivery(make_integration_client, loopback_allowed):
    client = make_integration_client(scopes="webhooks:manage customers:read").client
    endpoint, _ = endpoints.endpoint_create(client=client, url="http://127.0.0.1:9/hooks", event_types=["*"])
    message = Message.objects.create(
        event_id="evt_admin", event_type="churn_risk_detected", body="{}", occurred_at=timezone.now()
    )
    delivery = Delivery.objects.create(
        message=message, endpoint=endpoint, event_type=message.event_type, status=DeliveryStatus.FAILED
    )
    Attempt.objects.create(delivery=delivery, number=1, status_code=500, response_excerpt="receiver exploded")
    return delivery


def test_lists_and_a_delivery_with_its_attempts(staff_client, failed_delivery):
    endpoints = staff_client.get("/admin/webhooks/webhookendpoint/")
    assert endpoints.status_code == 200 and failed_delivery.endpoint_id.encode() in endpoints.content
    assert staff_client.get("/admin/webhooks/message/").status_code == 200
    deliveries = staff_client.get("/admin/webhooks/delivery/?status__exact=failed")
    assert deliveries.status_code == 200 and failed_delivery.pk.encode() in deliveries.content
    detail = staff_client.get(f"/admin/webhooks/delivery/{failed_delivery.pk}/change/")
    assert detail.status_code == 200 and b"receiver exploded" in detail.content
    assert b"lease_token" not in detail.content


def test_replay_action(staff_client, failed_delivery, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        response = staff_client.post(
            "/admin/webhooks/delivery/", {"action": "replay", "_selected_action": [failed_delivery.pk]}
        )
    assert response.status_code == 302
    failed_delivery.refresh_from_db()
    assert failed_delivery.status == DeliveryStatus.PENDING and failed_delivery.replay_count == 1
    assert len(queued) == 1


def test_replay_failed_since_and_rotate_actions(
    staff_client, failed_delivery, django_capture_on_commit_callbacks
):
    endpoint = failed_delivery.endpoint
    with django_capture_on_commit_callbacks():
        response = staff_client.post(
            "/admin/webhooks/webhookendpoint/",
            {"action": "replay_failed", "_selected_action": [endpoint.pk], "since": "2020-01-01 00:00"},
            follow=True,
        )
    assert b"1 failed deliveries queued again" in response.content
    failed_delivery.refresh_from_db()
    assert failed_delivery.status == DeliveryStatus.PENDING

    old_secret = endpoint.secret
    response = staff_client.post(
        "/admin/webhooks/webhookendpoint/",
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
        follow=True,
    )
    endpoint.refresh_from_db()
    assert endpoint.secret != old_secret and endpoint.previous_secret == old_secret
    assert endpoint.secret.encode() in response.content  # shown once, to the operator who rotated it


def test_registering_in_the_admin_checks_the_url(staff_client, failed_delivery):
    page = staff_client.post(
        "/admin/webhooks/webhookendpoint/add/",
        {"client": failed_delivery.endpoint.client_id, "url": "https://10.0.0.1/x", "event_types": '["*"]'},
    )
    assert page.status_code == 200 and b"private address" in page.content
    assert WebhookEndpoint.objects.count() == 1
