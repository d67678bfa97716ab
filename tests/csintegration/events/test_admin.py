"""The event log in the admin: read-only, filtered, searchable, with a re-dispatch action."""

from csintegration.events import publish
from csintegration.events.models import Event, EventReceipt
from csintegration.events.services import event_dispatch

LIST = "/admin/events/event/"


def test_list_filter_search_and_read_only_detail(staff_client, recording_subscriber):
    recording_subscriber("test.recorder")
    churn = publish("churn_risk_detected", customer_id="cust_admin", payload={"risk_level": "high"})
    other = publish("customer.created", customer_id="cust_other", payload={})
    event_dispatch(event_id=churn.event_id)

    listing = staff_client.get(LIST).content.decode()
    assert churn.event_id in listing and other.event_id in listing
    undispatched = staff_client.get(LIST, {"dispatched": "no"}).content.decode()
    assert other.event_id in undispatched and churn.event_id not in undispatched
    by_type = staff_client.get(LIST, {"event_type__exact": "churn_risk_detected"}).content.decode()
    assert churn.event_id in by_type and other.event_id not in by_type
    found = staff_client.get(LIST, {"q": "cust_other"}).content.decode()
    assert other.event_id in found and churn.event_id not in found

    detail = staff_client.get(f"{LIST}{churn.event_id}/change/")
    assert detail.status_code == 200
    content = detail.content.decode()
    assert "test.recorder" in content and "&quot;risk_level&quot;: &quot;high&quot;" in content
    assert 'name="_save"' not in content
    assert staff_client.get(f"{LIST}add/").status_code == 403
    assert staff_client.post(f"{LIST}{churn.event_id}/delete/").status_code == 403


def test_redispatch_action(staff_client, recording_subscriber, django_capture_on_commit_callbacks):
    recorder = recording_subscriber("test.recorder")
    event = publish("test.operations_event", customer_id=None, payload={"workflow_id": "run_1"})
    event_dispatch(event_id=event.event_id)
    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_client.post(
            LIST, {"action": "redispatch", "_selected_action": [event.event_id]}, follow=True
        )
    assert response.status_code == 200 and "1 event(s) sent to the fan-out again" in response.content.decode()
    assert len(callbacks) == 1
    event.refresh_from_db()
    assert event.dispatched_at is None and not EventReceipt.objects.filter(event=event).exists()
    event_dispatch(event_id=event.event_id)
    assert recorder.calls_for(event.event_id) == 2
    assert Event.objects.get(pk=event.pk).dispatched_at is not None
