"""Deliveries through a real Celery worker to a real local receiver (pytest-httpserver), verified with the
``standardwebhooks`` package: signatures, retries, Retry-After, 410, exhaustion and replay, rotation,
redirects, and the address check at delivery time."""

import json
import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook
from werkzeug import Response

from csintegration.events import publish
from tests.celery_support import wait_until
from webhooks import deliveries
from webhooks.models import Delivery, DeliveryStatus, DisabledReason, Message, WebhookEndpoint

from .conftest import BASE

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

HEALTH_CHANGE = {"previous_score": 80, "new_score": 65, "change_reason": "usage_decline"}


class Receiver:
    """Answers each request with the next status of ``statuses`` (the last one repeats) and keeps them."""

    def __init__(self, httpserver, statuses=(200,), headers=None, path="/hooks") -> None:
        self.statuses = list(statuses)
        self.headers = headers or {}
        self.requests: list[tuple[float, dict, str]] = []
        self._lock = threading.Lock()
        self.url = httpserver.url_for(path)
        httpserver.expect_request(path, method="POST").respond_with_handler(self._handle)

    def _handle(self, request):
        with self._lock:
            index = len(self.requests)
            self.requests.append((time.monotonic(), dict(request.headers), request.get_data(as_text=True)))
            status = self.statuses[min(index, len(self.statuses) - 1)]
        return Response(f"answer {index + 1}", status=status, headers=self.headers.get(status, {}))

    def count(self) -> int:
        with self._lock:
            return len(self.requests)


def publish_health_change(customer_id: str = "cust_12345"):
    with transaction.atomic():
        return publish("health_score_change", customer_id=customer_id, payload=HEALTH_CHANGE)


def delivery_of(endpoint_id: str, status: str | None = None) -> Delivery | None:
    deliveries = Delivery.objects.filter(endpoint_id=endpoint_id)
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries.first()


def attempts_of(delivery: Delivery) -> list[tuple[int, int | None]]:
    return list(delivery.attempts.order_by("number").values_list("number", "status_code"))


def test_a_published_event_reaches_the_receiver_signed(
    celery_worker, httpserver, fast_schedule, webhook_api, register_endpoint
):
    receiver = Receiver(httpserver)
    client = webhook_api()
    endpoint = register_endpoint(client, receiver.url, events=["health_score_change"])
    other = register_endpoint(client, receiver.url.replace("/hooks", "/other"), events=["customer.created"])

    event = publish_health_change()
    delivery = wait_until(lambda: delivery_of(endpoint["id"], DeliveryStatus.SUCCEEDED))

    assert receiver.count() == 1
    _, headers, body = receiver.requests[0]
    payload = Webhook(endpoint["secret"]).verify(body, headers)  # raises unless signed with this secret
    assert payload == {
        "event": "health_score_change",
        "customer_id": "cust_12345",
        "previous_score": 80,
        "new_score": 65,
        "change_reason": "usage_decline",
        "timestamp": event.payload["timestamp"],
    }
    assert payload["timestamp"].endswith("Z")
    assert headers["Content-Type"] == "application/json"
    assert headers["Webhook-Id"] == delivery.message_id and delivery.message_id.startswith("msg_")
    assert abs(int(headers["Webhook-Timestamp"]) - time.time()) < 30
    assert headers["Webhook-Signature"].startswith("v1,") and " " not in headers["Webhook-Signature"]
    assert delivery.message.event_id == event.event_id
    assert attempts_of(delivery) == [(1, 200)]
    assert delivery.attempts.get().response_excerpt == "answer 1"
    assert delivery_of(other["id"]) is None  # it did not subscribe to health_score_change

    listed = client.get(f"{BASE}/{endpoint['id']}/deliveries").json()["results"]
    assert listed[0]["status"] == "succeeded" and listed[0]["attempts"][0]["status_code"] == 200


def test_a_receiver_failing_twice_gets_three_attempts(
    celery_worker, beat, httpserver, fast_schedule, webhook_api, register_endpoint
):
    receiver = Receiver(httpserver, statuses=(500, 502, 204))
    endpoint = register_endpoint(webhook_api(), receiver.url)

    publish_health_change()
    delivery = wait_until(lambda: delivery_of(endpoint["id"], DeliveryStatus.SUCCEEDED))

    assert attempts_of(delivery) == [(1, 500), (2, 502), (3, 204)]
    assert delivery.attempt_count == 3 and delivery.last_status_code == 204
    ids = {headers["Webhook-Id"] for _, headers, _ in receiver.requests}
    assert ids == {delivery.message_id}  # the same webhook-id on every retry
    first, second, third = (moment for moment, _, _ in receiver.requests)
    assert second - first >= 0.1 and third - second >= 0.1  # the schedule's delays were kept
    for _, headers, body in receiver.requests:
        Webhook(endpoint["secret"]).verify(body, headers)
    assert WebhookEndpoint.objects.get(pk=endpoint["id"]).failing_since is None


def test_retry_after_on_429_is_honoured(
    celery_worker, beat, httpserver, fast_schedule, webhook_api, register_endpoint
):
    receiver = Receiver(httpserver, statuses=(429, 200), headers={429: {"Retry-After": "2"}})
    endpoint = register_endpoint(webhook_api(), receiver.url)

    publish_health_change()
    delivery = wait_until(lambda: delivery_of(endpoint["id"], DeliveryStatus.SUCCEEDED))

    assert attempts_of(delivery) == [(1, 429), (2, 200)]
    first, second = (moment for moment, _, _ in receiver.requests)
    assert second - first >= 1.9  # the receiver asked for 2 s, more than the schedule's 0.1 s


def test_410_disables_the_endpoint_and_tells_operators(
    celery_worker, httpserver, fast_schedule, webhook_api, register_endpoint
):
    receiver = Receiver(httpserver, statuses=(410,))
    endpoint = register_endpoint(webhook_api(), receiver.url)

    publish_health_change()
    delivery = wait_until(lambda: delivery_of(endpoint["id"], DeliveryStatus.FAILED))

    stored = WebhookEndpoint.objects.get(pk=endpoint["id"])
    assert stored.is_active is False and stored.disabled_reason == DisabledReason.GONE and stored.disabled_at
    assert attempts_of(delivery) == [(1, 410)]
    wait_until(lambda: mail.outbox)
    assert endpoint["id"] in mail.outbox[0].subject and receiver.url in mail.outbox[0].body

    publish_health_change("cust_other")  # no more deliveries for a disabled endpoint
    time.sleep(0.5)
    assert Delivery.objects.filter(endpoint_id=endpoint["id"]).count() == 1
    assert receiver.count() == 1


def test_a_receiver_down_through_the_schedule_fails_then_replay_delivers(
    celery_worker, beat, httpserver, fast_schedule, webhook_api, register_endpoint
):
    receiver = Receiver(httpserver, statuses=(503, 503, 503, 503, 200))
    client = webhook_api()
    endpoint = register_endpoint(client, receiver.url)

    publish_health_change()
    failed = wait_until(lambda: delivery_of(endpoint["id"], DeliveryStatus.FAILED))
    assert attempts_of(failed) == [(1, 503), (2, 503), (3, 503), (4, 503)]  # first try + 3 retries
    assert failed.next_attempt_at is None
    time.sleep(0.4)
    assert receiver.count() == 4  # nothing more once failed

    path = f"{BASE}/{endpoint['id']}/deliveries/{failed.pk}/retry"
    response = client.post(path)
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending" and response.json()["replay_count"] == 1
    replayed = wait_until(lambda: delivery_of(endpoint["id"], DeliveryStatus.SUCCEEDED))
    assert attempts_of(replayed)[-1] == (5, 200)
    assert receiver.requests[-1][1]["Webhook-Id"] == failed.message_id


def test_replay_since_sends_the_failed_deliveries_again(
    celery_worker, httpserver, fast_schedule, webhook_api, register_endpoint
):
    fast_schedule.WEBHOOK_RETRY_SCHEDULE = []  # one try only
    receiver = Receiver(httpserver, statuses=(500, 500, 200, 200))
    client = webhook_api()
    endpoint = register_endpoint(client, receiver.url)
    started = timezone.now() - timedelta(seconds=1)

    publish_health_change("cust_1")
    publish_health_change("cust_2")
    wait_until(lambda: Delivery.objects.filter(endpoint_id=endpoint["id"], status="failed").count() == 2)

    response = client.post(f"{BASE}/{endpoint['id']}/replay", {"since": started.isoformat()}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["replayed"] == 2
    wait_until(lambda: Delivery.objects.filter(endpoint_id=endpoint["id"], status="succeeded").count() == 2)
    assert receiver.count() == 4


def test_rotation_sends_both_signatures(
    celery_worker, httpserver, fast_schedule, webhook_api, register_endpoint
):
    receiver = Receiver(httpserver)
    client = webhook_api()
    endpoint = register_endpoint(client, receiver.url)
    new_secret = client.post(f"{BASE}/{endpoint['id']}/rotate-secret").json()["secret"]

    publish_health_change()
    wait_until(lambda: delivery_of(endpoint["id"], DeliveryStatus.SUCCEEDED))

    _, headers, body = receiver.requests[0]
    signatures = headers["Webhook-Signature"].split(" ")
    assert len(signatures) == 2 and all(signature.startswith("v1,") for signature in signatures)
    Webhook(new_secret).verify(body, headers)
    Webhook(endpoint["secret"]).verify(body, headers)  # receivers not yet updated keep working

    # Once the overlap is over only the new secret signs.
    WebhookEndpoint.objects.filter(pk=endpoint["id"]).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    publish_health_change("cust_2")
    wait_until(lambda: receiver.count() == 2)
    _, headers, body = receiver.requests[1]
    assert " " not in headers["Webhook-Signature"]
    Webhook(new_secret).verify(body, headers)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(endpoint["secret"]).verify(body, headers)


def test_redirects_are_not_followed(celery_worker, httpserver, fast_schedule, webhook_api, register_endpoint):
    fast_schedule.WEBHOOK_RETRY_SCHEDULE = []
    target = Receiver(httpserver, path="/elsewhere")
    redirect = Receiver(httpserver, statuses=(302,), headers={302: {"Location": target.url}})
    endpoint = register_endpoint(webhook_api(), redirect.url)

    publish_health_change()
    delivery = wait_until(lambda: delivery_of(endpoint["id"], DeliveryStatus.FAILED))

    assert attempts_of(delivery) == [(1, 302)]
    assert "not followed" in delivery.attempts.get().error
    assert target.count() == 0


def test_the_address_is_checked_again_at_delivery(
    celery_worker, httpserver, fast_schedule, webhook_api, register_endpoint
):
    fast_schedule.WEBHOOK_RETRY_SCHEDULE = []
    receiver = Receiver(httpserver)
    endpoint = register_endpoint(webhook_api(), receiver.url)
    fast_schedule.WEBHOOK_ALLOWED_NETWORKS = []  # e.g. the exception was withdrawn after registration

    publish_health_change()
    delivery = wait_until(lambda: delivery_of(endpoint["id"], DeliveryStatus.FAILED))

    attempt = delivery.attempts.get()
    assert (
        attempt.status_code is None and attempt.error.startswith("Refused:") and "loopback" in attempt.error
    )
    assert receiver.count() == 0


def test_a_hostname_is_connected_to_at_its_checked_address(
    celery_worker, httpserver, fast_schedule, webhook_api, register_endpoint
):
    receiver = Receiver(httpserver)
    url = receiver.url.replace("127.0.0.1", "localhost")
    endpoint = register_endpoint(webhook_api(), url)

    publish_health_change()
    wait_until(lambda: delivery_of(endpoint["id"], DeliveryStatus.SUCCEEDED))
    _, headers, body = receiver.requests[0]
    assert headers["Host"] == f"localhost:{httpserver.port}"  # the name is kept for Host (and SNI)
    assert json.loads(body)["event"] == "health_score_change"


def test_a_delivery_claimed_by_a_killed_worker_is_retried_by_the_dispatcher(
    celery_worker, beat, httpserver, fast_schedule, webhook_api, register_endpoint
):
    receiver = Receiver(httpserver)
    endpoint = register_endpoint(webhook_api(), receiver.url)
    message = Message.objects.create(
        event_id="evt_killed",
        event_type="health_score_change",
        body='{"event":"health_score_change"}',
        occurred_at=timezone.now(),
    )
    # The state a worker leaves when it is killed after its claim (see delivery_claim): in flight, leased
    # for the attempt timeout, still pending and due.
    now = timezone.now()
    Delivery.objects.create(
        message=message,
        endpoint_id=endpoint["id"],
        event_type=message.event_type,
        next_attempt_at=now,
        lease_token="token-of-the-dead-worker",
        lease_expires_at=now + timedelta(seconds=1),
        in_flight_since=now,
    )
    time.sleep(0.5)
    assert receiver.count() == 0  # the lease holds while the dead worker could still be sending

    done = wait_until(lambda: delivery_of(endpoint["id"], DeliveryStatus.SUCCEEDED))
    assert list(done.attempts.values_list("number", "status_code", "error")) == [
        (1, None, deliveries.LOST_ATTEMPT_ERROR),
        (2, 200, ""),
    ]
    assert receiver.count() == 1 and receiver.requests[0][1]["Webhook-Id"] == message.pk
