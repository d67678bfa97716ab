"""``insert_unless_present``: one ``INSERT … ON CONFLICT DO NOTHING RETURNING``, True only for the call
that wrote the row, which then reads back as the object was built."""

from datetime import UTC, datetime

import pytest

from csintegration.db import insert_unless_present
from webhooks.models import Message

pytestmark = pytest.mark.django_db

OCCURRED = datetime(2025, 12, 5, 8, 20, tzinfo=UTC)


def message(customer_id: str, body: str = '{"a":1}') -> Message:
    return Message(
        event_id="evt_once",
        event_type="health_score_change",
        customer_id=customer_id,
        body=body,
        occurred_at=OCCURRED,
    )


def test_the_first_call_writes_the_row_and_a_second_writes_nothing():
    first = message("cust_1")
    assert insert_unless_present(first, unique=["event_id"]) is True
    assert not first._state.adding

    second = message("cust_2", body='{"a":2}')
    assert insert_unless_present(second, unique=["event_id"]) is False
    assert second._state.adding  # never stored

    [stored] = Message.objects.all()
    assert (stored.pk, stored.customer_id, stored.body, stored.occurred_at) == (
        first.pk,
        "cust_1",
        '{"a":1}',
        OCCURRED,
    )
    assert stored.created_at is not None and stored.created_at == first.created_at
