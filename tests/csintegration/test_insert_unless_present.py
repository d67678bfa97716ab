"""``insert_unless_present``: one ``INSERT … ON CONFLICT DO NOTHING RETURNING``, True only for the call
that wrote the row, which then reads back as the object was built."""

from datetime import UTC, datetime

import pytest

from csintegration.db import insert_unless_present, insert_unless_present_and_select
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


def test_with_a_query_beside_it_in_one_round_trip():
    """``insert_unless_present_and_select``: the same insert, and the rows of a query (none, or several),
    in one statement on PostgreSQL."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def insert(obj, prefix):
        select = 'SELECT "id", "customer_id" FROM "webhooks_message" WHERE "customer_id" LIKE %s'
        select += ' ORDER BY "customer_id"'
        return insert_unless_present_and_select(obj, unique=["event_id"], select=select, params=[prefix])

    first = message("cust_1")
    with CaptureQueriesContext(connection) as queries:
        assert insert(first, "other_%") == (True, [])
    assert len(queries) == (1 if connection.vendor == "postgresql" else 2)
    assert not first._state.adding
    others = [message(f"other_{n}") for n in range(2)]
    for n, other in enumerate(others):
        other.event_id = f"evt_other{n}"
        assert insert_unless_present(other, unique=["event_id"])

    again = message("cust_2")  # the event_id of the first
    assert insert(again, "other_%") == (False, [(others[0].pk, "other_0"), (others[1].pk, "other_1")])
    assert again._state.adding and Message.objects.count() == 3
