"""``bulk_insert`` writes what ``bulk_create`` writes (COPY on PostgreSQL from COPY_MIN_ROWS rows, one
multi-row INSERT below, ``bulk_create`` elsewhere): the same columns, the keys known after, encrypted
fields encrypted, a duplicate key an IntegrityError; ``bulk_update_values`` writes what ``bulk_update``
writes, through either of its PostgreSQL paths, and ``update_rows`` what ``update`` does. Each test runs
with the rows streamed and with them inserted."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.forms.models import model_to_dict

from csintegration import db
from csintegration.db import bulk_insert, bulk_update_values
from csintegration.events.models import Event
from domains.customers.models import Customer, HealthSnapshot
from domains.product.models import Feedback

pytestmark = pytest.mark.django_db

MOMENT = datetime(2026, 11, 30, 8, 15, 30, 123456, tzinfo=UTC)


@pytest.fixture(autouse=True, params=["copy", "statement"])
def write_path(request, monkeypatch):
    """Every batch streamed with COPY (on PostgreSQL), or none: the few rows of a test take either path."""
    monkeypatch.setattr(db, "COPY_MIN_ROWS", 1 if request.param == "copy" else 10**9)
    return request.param


def _customers(prefix: str) -> list[Customer]:
    return [
        Customer(
            customer_id=f"cust_{prefix}{n}",
            name=f"Bulk {n} 'quoted' \\ tab\there",
            segment="enterprise",
            arr=Decimal("12345.67") + n,
            health_score=40 + n,
            integration_status_as_of={"marketing": "2026-11-30T08:15:30Z", "sales": None},
        )
        for n in range(3)
    ]


def _stored(model, keys) -> list[dict]:
    rows = model.objects.filter(pk__in=keys).order_by("pk")
    return [
        {k: v for k, v in model_to_dict(row).items() if k not in ("customer_id", "created_at", "updated_at")}
        for row in rows
    ]


def test_rows_match_what_bulk_create_writes():
    copied, created = _customers("copy"), _customers("orm")
    bulk_insert(Customer, copied)
    Customer.objects.bulk_create(created)
    assert _stored(Customer, [c.pk for c in copied]) == _stored(Customer, [c.pk for c in created])
    first = Customer.objects.get(pk="cust_copy0")
    assert first.name == "Bulk 0 'quoted' \\ tab\there"
    assert first.arr == Decimal("12345.67")
    assert first.integration_status_as_of == {"marketing": "2026-11-30T08:15:30Z", "sales": None}
    assert first.created_at is not None


def test_events_keep_their_body_times_and_defaults():
    events = [
        Event(
            event_type="customer.updated",
            customer_id="cust_1",
            payload={"n": n, "nested": [1, "x"]},
            occurred_at=MOMENT,
        )
        for n in range(2)
    ]
    bulk_insert(Event, events)
    stored = Event.objects.get(pk=events[1].event_id)
    assert stored.payload == {"n": 1, "nested": [1, "x"]}
    assert stored.occurred_at == MOMENT
    assert stored.created_at is not None and stored.dispatched_at is None
    assert stored.dispatch_attempts == 0 and stored.last_error == ""


def test_auto_increment_keys_are_known_after_and_match_the_rows():
    (customer,) = bulk_insert(Customer, _customers("snap")[:1])
    snapshots = [
        HealthSnapshot(
            customer=customer, score=score, health_trend="stable", risk_level="low", source="manual"
        )
        for score in (70, 71, 72)
    ]
    bulk_insert(HealthSnapshot, snapshots)
    assert all(snapshot.pk is not None for snapshot in snapshots)
    assert {s.pk: s.score for s in snapshots} == dict(
        HealthSnapshot.objects.filter(customer=customer).values_list("pk", "score")
    )
    # The sequence moved past them: the next ordinary insert does not collide.
    later = HealthSnapshot.objects.create(
        customer=customer, score=1, health_trend="stable", risk_level="low", source="manual"
    )
    assert later.pk > max(s.pk for s in snapshots)


def test_an_encrypted_field_is_stored_encrypted():
    (customer,) = bulk_insert(Customer, _customers("enc")[:1])
    feedback = Feedback(
        customer=customer,
        type="feature_request",
        category="workflow_automation",
        priority="high",
        business_impact="efficiency_gain",
        description="a secret roadmap wish",
    )
    bulk_insert(Feedback, [feedback])
    with connection.cursor() as cursor:
        cursor.execute("SELECT description FROM product_feedback WHERE feedback_id = %s", [feedback.pk])
        (raw,) = cursor.fetchone()
    assert "secret" not in raw
    assert Feedback.objects.get(pk=feedback.pk).description == "a secret roadmap wish"


def test_a_duplicate_key_is_an_integrity_error_and_nothing_of_the_batch_is_kept():
    bulk_insert(Customer, _customers("dup")[:1])
    again = _customers("dup")  # cust_dup0 exists already
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk_insert(Customer, again)
    assert list(Customer.objects.filter(pk__startswith="cust_dup").values_list("pk", flat=True)) == [
        "cust_dup0"
    ]


def test_ignore_conflicts_leaves_out_the_duplicates_and_keeps_the_rest():
    bulk_insert(Customer, _customers("ign")[:1])
    again = _customers("ign")  # cust_ign0 exists already
    again[0].name = "not written"
    bulk_insert(Customer, again, ignore_conflicts=True)
    stored = dict(Customer.objects.filter(pk__startswith="cust_ign").values_list("pk", "name"))
    assert sorted(stored) == ["cust_ign0", "cust_ign1", "cust_ign2"]
    assert stored["cust_ign0"] != "not written"


def test_rows_with_and_without_their_auto_key_all_get_one():
    (customer,) = bulk_insert(Customer, _customers("mix")[:1])
    first = HealthSnapshot.objects.create(
        customer=customer, score=1, health_trend="stable", risk_level="low", source="manual"
    )
    free_key = first.pk
    first.delete()
    snapshots = [
        HealthSnapshot(
            customer=customer, score=score, health_trend="stable", risk_level="low", source="manual"
        )
        for score in (80, 81)
    ]
    snapshots[0].pk = free_key  # a key of its own, free again
    bulk_insert(HealthSnapshot, snapshots)
    assert snapshots[1].pk is not None and snapshots[1].pk != free_key
    assert dict(HealthSnapshot.objects.filter(customer=customer).values_list("pk", "score")) == {
        free_key: 80,
        snapshots[1].pk: 81,
    }


def test_bulk_update_values_writes_what_bulk_update_writes():
    count = 3
    ours = [Customer(customer_id=f"cust_up{n}", name=f"Up {n}", arr=Decimal(n)) for n in range(count)]
    theirs = [Customer(customer_id=f"cust_upo{n}", name=f"Up {n}", arr=Decimal(n)) for n in range(count)]
    bulk_insert(Customer, ours + theirs)
    for n, customer in enumerate(ours + theirs):
        customer.name = f"Renamed {n % count} 'q' \\ \t"
        customer.arr = Decimal("0.5") + n % count
        customer.health_score = (n % count) % 100
        customer.integration_status_as_of = {"sales": f"2026-12-0{1 + n % 2}T00:00:00Z"}
    fields = ["name", "arr", "health_score", "integration_status_as_of"]
    with transaction.atomic():
        bulk_update_values(Customer, ours, fields)
        bulk_update_values(Customer, ours, fields)  # twice in one transaction: the staging table is gone
    Customer.objects.bulk_update(theirs, fields)
    assert _stored(Customer, [c.pk for c in ours]) == _stored(Customer, [c.pk for c in theirs])
    assert Customer.objects.get(pk="cust_up1").arr == Decimal("1.5")


def test_update_rows_updates_what_the_orm_update_would():
    bulk_insert(Customer, _customers("upd"))
    changed = db.update_rows(
        Customer,
        where={"pk": ["cust_upd0", "cust_upd1", "cust_missing"], "segment": ["enterprise"]},
        values={"name": "Renamed 'quoted'", "arr": Decimal("5.25"), "updated_at": MOMENT},
        increments={"health_score": 5},
    )
    assert changed == 2
    rows = {c.pk: c for c in Customer.objects.filter(pk__startswith="cust_upd")}
    assert [rows[f"cust_upd{n}"].health_score for n in range(3)] == [45, 46, 42]
    assert rows["cust_upd0"].name == rows["cust_upd1"].name == "Renamed 'quoted'"
    assert rows["cust_upd1"].arr == Decimal("5.25") and rows["cust_upd1"].updated_at == MOMENT
    assert rows["cust_upd2"].name.startswith("Bulk 2")
    # A condition no row can meet (an empty list) updates nothing, as an empty __in does.
    assert db.update_rows(Customer, where={"pk": []}, values={"name": "x"}) == 0
    assert (
        db.update_rows(Customer, where={"pk": ["cust_upd0"], "segment": ["smb"]}, values={"name": "x"}) == 0
    )


def test_a_naive_time_is_made_aware_as_bulk_create_makes_it(settings):
    naive = MOMENT.replace(tzinfo=None)
    (event,) = bulk_insert(
        Event, [Event(event_type="customer.updated", customer_id="cust_1", payload={}, occurred_at=naive)]
    )
    assert Event.objects.get(pk=event.pk).occurred_at == naive.replace(tzinfo=UTC)  # TIME_ZONE is UTC


def _fields_of(obj) -> dict:
    return {field.attname: getattr(obj, field.attname) for field in type(obj)._meta.concrete_fields}


def test_new_instance_builds_what_the_model_constructor_builds():
    values = {
        "event_id": "evt_fixed",  # the default is drawn at random
        "event_type": "customer.updated",
        "customer_id": "cust_1",
        "payload": {"a": 1},
        "occurred_at": MOMENT,
    }
    built, constructed = db.new_instance(Event, **values), Event(**values)
    assert _fields_of(built) == _fields_of(constructed)
    assert built._state.adding and built._state.db is None

    customer = Customer(customer_id="cust_rel", name="Related")
    values = {"customer": customer, "score": 70, "source": "manual", "observed_at": MOMENT}
    snapshot = db.new_instance(HealthSnapshot, **values)
    assert _fields_of(snapshot) == _fields_of(HealthSnapshot(**values))
    assert snapshot.customer is customer and snapshot.customer_id == "cust_rel"
    by_attname = db.new_instance(HealthSnapshot, customer_id="cust_rel", score=1)
    assert by_attname.customer_id == "cust_rel"

    bulk_insert(Customer, [db.new_instance(Customer, customer_id="cust_new", name="New")])
    bulk_insert(Customer, [Customer(customer_id="cust_old", name="New")])
    assert _stored(Customer, ["cust_new"]) == _stored(Customer, ["cust_old"])


def test_new_instance_refuses_a_name_that_is_no_field():
    with pytest.raises(TypeError, match="no field colour"):
        db.new_instance(Customer, customer_id="cust_x", colour="red")


def test_new_instance_leaves_a_model_with_init_receivers_to_its_constructor():
    from django.db.models.signals import post_init

    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(receiver, sender=Customer)
    try:
        customer = db.new_instance(Customer, customer_id="cust_sig", name="Signalled")
    finally:
        post_init.disconnect(receiver, sender=Customer)
    assert seen == [customer]


def test_rows_of_mixed_value_types_are_each_converted_as_bulk_create_converts_them():
    """A batch whose rows carry other types than the columns' own (an int for a text column, a str for an
    int column, a bool for an int, a JSON string, a naive time) is written as ``bulk_create`` writes it,
    whichever row comes first: a combination of types seen once is no excuse to skip the next one's."""
    values = [
        {"name": "Plain", "health_score": 40, "integration_status_as_of": {}},
        {"name": 12345, "health_score": "41", "integration_status_as_of": []},
        {"name": "Plain again", "health_score": 42, "integration_status_as_of": {"sales": "x"}},
        {"name": "Bool score", "health_score": True, "integration_status_as_of": "a JSON string"},
        {
            "name": "Unicode é ✓ \\ \t",
            "health_score": 44,
            "integration_status_as_of": {"k": [1.5, None, "ü"]},
        },
    ]

    def rows(prefix):
        return [
            Customer(customer_id=f"cust_{prefix}{n}", segment="smb", **row) for n, row in enumerate(values)
        ]

    copied, created = rows("mixc"), rows("mixo")
    bulk_insert(Customer, copied)
    Customer.objects.bulk_create(created)
    assert _stored(Customer, [c.pk for c in copied]) == _stored(Customer, [c.pk for c in created])
    assert Customer.objects.get(pk="cust_mixc1").name == "12345"
    assert Customer.objects.get(pk="cust_mixc3").integration_status_as_of == "a JSON string"


@pytest.mark.parametrize(
    "value",
    [
        [],
        {},
        {"a": 1, "b": [1, 2.5, None, True, False], "c": {"d": "é ✓ \u2028 \x00"}},
        [{"x": 0.1 + 0.2}, 10**30, -0.0, 1e-300, 2**63 - 1, -(2**63)],
        {1: "int key", None: "none key", 2.5: "float key"},
        {True: "bool key", "s": "str key"},
        ("a", "tuple"),
        "a string",
        17,
    ],
)
def test_json_text_is_the_document_json_dumps_writes(value):
    import json

    assert json.loads(db.json_text(value)) == json.loads(json.dumps(value))
    assert db.json_text(value).replace(" ", "") == json.dumps(value, ensure_ascii=False).replace(" ", "")


def test_json_text_writes_a_non_finite_float_as_null():
    # json.dumps writes NaN and Infinity, which are not JSON: PostgreSQL refused such a document.
    assert db.json_text([float("nan"), {"x": float("inf")}]) == '[null,{"x":null}]'


def test_json_text_fails_as_json_dumps_fails():
    import json

    cyclic: list = []
    cyclic.append(cyclic)
    for value in (cyclic, {"when": MOMENT}, {(1, 2): "tuple key"}):
        with pytest.raises(Exception) as dumped:
            json.dumps(value)
        with pytest.raises(type(dumped.value)):
            db.json_text(value)


def test_locked_by_key_loads_the_rows_as_the_orm_loads_them():
    bulk_insert(Customer, _customers("lock"))
    locked = db.locked_by_key(Customer, ["cust_lock2", "cust_lock0", "cust_missing", "cust_lock0"])
    assert list(locked) == ["cust_lock0", "cust_lock2"]  # key order, the missing key left out
    for key, row in locked.items():
        stored = Customer.objects.get(pk=key)
        assert _fields_of(row) == _fields_of(stored)
        assert (row._state.adding, row._state.db) == (False, "default")
    assert db.locked_by_key(Customer, []) == {}


@pytest.mark.django_db(transaction=True)
def test_locked_by_key_holds_the_rows_until_the_transaction_ends():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's (SQLite serialises writers)")
    import threading

    bulk_insert(Customer, _customers("held"))
    attempts: list[str] = []

    def other_writer():
        try:
            with transaction.atomic():
                list(Customer.objects.select_for_update(nowait=True).filter(pk="cust_held1"))
            attempts.append("locked it")
        except Exception as exc:  # psycopg's LockNotAvailable, wrapped by Django
            attempts.append(type(exc).__name__)
        finally:
            connection.close()

    with transaction.atomic():
        assert set(db.locked_by_key(Customer, ["cust_held1"])) == {"cust_held1"}
        thread = threading.Thread(target=other_writer)
        thread.start()
        thread.join(10)
    assert attempts == ["OperationalError"]
    thread = threading.Thread(target=other_writer)
    thread.start()
    thread.join(10)
    assert attempts == ["OperationalError", "locked it"]


def test_table_stamp_moves_with_every_added_saved_or_deleted_row():
    from domains.customers.models import Scorecard

    first = db.table_stamp(Scorecard)
    scorecard = Scorecard.objects.create(name="Stamped", segment="enterprise")
    added = db.table_stamp(Scorecard)
    assert added != first and added[0] == first[0] + 1
    scorecard.save()
    saved = db.table_stamp(Scorecard)
    assert saved != added and saved[0] == added[0]
    scorecard.delete()
    assert db.table_stamp(Scorecard)[0] == first[0]
