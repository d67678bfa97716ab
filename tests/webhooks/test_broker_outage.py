"""A broker outage at commit time: the change and its deliveries are kept, the caller gets no error, and
the dispatcher sends the deliveries once their queue lease runs out."""

import pytest
from django.utils import timezone

from domains.customers.models import Customer
from tests.celery_support import broker_unreachable, conf_set
from webhooks import deliveries
from webhooks.models import Delivery, DeliveryStatus

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_health_change_during_a_broker_outage_is_accepted_and_delivered_later(
    loopback_allowed, webhook_api, register_endpoint, httpserver, api
):
    httpserver.expect_request("/hook").respond_with_data("", status=204)
    endpoint = register_endpoint(webhook_api(), httpserver.url_for("/hook"), events=["health_score_change"])
    Customer.objects.create(customer_id="cust_outage", name="Outage Co", health_score=80)

    with broker_unreachable():
        response = api(scopes="events:write").post(
            "/api/v1/cs-integration/events/health-change",
            {
                "customer_id": "cust_outage",
                "previous_score": 80,
                "new_score": 60,
                "change_reason": "usage_decline",
            },
            format="json",
        )
    assert response.status_code == 202, response.content
    delivery = Delivery.objects.get(endpoint_id=endpoint["id"])
    assert delivery.status == DeliveryStatus.PENDING and not delivery.attempts.exists()

    # Beat's dispatcher leaves it alone while its queue lease could still be honoured, then sends it.
    assert deliveries.deliveries_dispatch_due() == 0
    Delivery.objects.filter(pk=delivery.pk).update(lease_expires_at=timezone.now())
    from csintegration.celery import app

    conf_set(app, task_always_eager=True)
    try:
        assert deliveries.deliveries_dispatch_due() == 1
    finally:
        conf_set(app, task_always_eager=False)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert len(httpserver.log) == 1
