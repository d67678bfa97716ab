"""Payments and each customer's overdue standing: an unpaid payment past its due date makes the customer's
``integration_status.finance`` overdue (at the payment write, or by the beat job when it falls due
later), paying it makes it current, each change is published once, and the scorecard's payment measure
follows. The beat job runs in a real Celery worker."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from csintegration.api.datetimes import full_date_pattern
from domains.customers.models import Customer, CustomerSignal
from domains.finance import services
from domains.finance.models import Payment, PaymentStanding
from tests.celery_support import wait_until
from tests.conftest import openapi_document

from .conftest import BASE, assert_problem, days, events_of

PAYMENTS = f"{BASE}/payments"
CUSTOMERS = "/api/v1/cs-integration/customers"


def finance_status(customer_id: str) -> str:
    return Customer.objects.get(pk=customer_id).finance_status


def payment_signal(customer_id: str) -> float | None:
    signal = CustomerSignal.objects.filter(customer_id=customer_id, name="payment_status").first()
    return signal.value if signal else None


@pytest.mark.django_db
def test_an_overdue_payment_makes_the_customer_overdue_and_paying_makes_it_current(
    api, finance_api, make_customer, make_contract
):
    customer = make_customer("cust_12345", health_score=80)
    contract = make_contract(customer, 120000, days(-100), days(264))
    client = finance_api
    created = client.post(
        PAYMENTS,
        {"customer_id": "cust_12345", "contract_id": contract.pk, "amount": 10000, "due_date": str(days(-5))},
        format="json",
    )
    assert created.status_code == 201, created.content
    payment = created.json()
    assert payment["payment_id"].startswith("pay_")
    assert (payment["status"], payment["days_overdue"], payment["contract_id"]) == ("overdue", 5, contract.pk)

    [overdue] = events_of("payment_overdue", "cust_12345")
    assert overdue.payload["payment_id"] == payment["payment_id"]
    assert overdue.payload["amount"] == 10000 and overdue.payload["due_date"] == str(days(-5))
    assert overdue.payload["days_overdue"] == 5 and overdue.payload["overdue_payments"] == 1
    # The customers app projected it in the same transaction, and the health engine got the measure.
    assert finance_status("cust_12345") == "overdue"
    customer_view = api(scopes="customers:read").get(f"{CUSTOMERS}/cust_12345").json()
    assert customer_view["integration_status"]["finance"] == "overdue"
    assert payment_signal("cust_12345") == 0.5
    standing = PaymentStanding.objects.get(customer_id="cust_12345")
    assert (
        standing.is_overdue and standing.overdue_since == days(-5) and standing.event_id == overdue.event_id
    )

    # A second overdue payment changes nothing that was announced.
    client.post(
        PAYMENTS, {"customer_id": "cust_12345", "amount": 500, "due_date": str(days(-2))}, format="json"
    )
    assert len(events_of("payment_overdue", "cust_12345")) == 1

    paid_first = client.patch(
        f"{PAYMENTS}/{payment['payment_id']}", {"paid_date": str(days(0))}, format="json"
    )
    assert paid_first.json()["status"] == "paid"
    assert events_of("payments_current", "cust_12345") == []  # the second one is still overdue
    second = Payment.objects.get(customer_id="cust_12345", amount=500)
    client.patch(f"{PAYMENTS}/{second.pk}", {"paid_date": str(days(0))}, format="json")
    [current] = events_of("payments_current", "cust_12345")
    assert current.payload["payment_id"] == second.pk and current.payload["overdue_since"] == str(days(-5))
    assert finance_status("cust_12345") == "current"
    assert payment_signal("cust_12345") == 1.0

    # A bounced payment (paid date cleared) makes it overdue again: a new change, a new event.
    client.patch(f"{PAYMENTS}/{second.pk}", {"paid_date": None}, format="json")
    assert len(events_of("payment_overdue", "cust_12345")) == 2
    assert finance_status("cust_12345") == "overdue"


@pytest.mark.django_db
def test_payments_not_yet_due_or_paid_leave_the_customer_current(finance_api, make_customer):
    make_customer("cust_12345")
    for body in (
        {"due_date": str(days(10))},
        {"due_date": str(days(0))},  # due today: not past its due date
        {"due_date": str(days(-30)), "paid_date": str(days(-29))},
    ):
        response = finance_api.post(
            PAYMENTS, {"customer_id": "cust_12345", "amount": 100, **body}, format="json"
        )
        assert response.status_code == 201
    assert events_of("payment_overdue") == [] and finance_status("cust_12345") == "current"
    assert payment_signal("cust_12345") is None
    statuses = {row["status"] for row in finance_api.get(PAYMENTS).json()["results"]}
    assert statuses == {"open", "paid"}


@pytest.mark.django_db
def test_the_grace_period_delays_overdue(settings, finance_api, make_customer):
    settings.FINANCE_OVERDUE_GRACE_DAYS = 7
    make_customer("cust_12345")
    finance_api.post(
        PAYMENTS, {"customer_id": "cust_12345", "amount": 100, "due_date": str(days(-7))}, format="json"
    )
    assert finance_status("cust_12345") == "current"
    finance_api.post(
        PAYMENTS, {"customer_id": "cust_12345", "amount": 100, "due_date": str(days(-8))}, format="json"
    )
    assert finance_status("cust_12345") == "overdue"


@pytest.mark.django_db
def test_payment_filters(finance_api, make_customer):
    make_customer("cust_a")
    make_customer("cust_b")
    overdue = services.payment_create(customer=Customer.objects.get(pk="cust_a"), amount=1, due_date=days(-3))
    open_ = services.payment_create(customer=Customer.objects.get(pk="cust_a"), amount=2, due_date=days(3))
    paid = services.payment_create(
        customer=Customer.objects.get(pk="cust_b"), amount=3, due_date=days(-3), paid_date=days(-1)
    )

    def ids(**params):
        return {row["payment_id"] for row in finance_api.get(PAYMENTS, params).json()["results"]}

    assert ids(status="overdue") == {overdue.pk}
    assert ids(status="open") == {open_.pk}
    assert ids(status="paid") == {paid.pk}
    assert ids(customer_id="cust_a") == {overdue.pk, open_.pk}
    assert ids(due_before=str(days(0))) == {overdue.pk, paid.pk}
    assert ids(due_after=str(days(0))) == {open_.pk}
    assert_problem(finance_api.get(PAYMENTS, {"status": "late"}), 400, "status")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": "12"}, "amount"),
        ({"due_date": "next week"}, "due_date"),
        ({"due_date": "1900-01-01"}, "due_date"),
        ({"paid_date": "2999-01-01"}, "paid_date"),
        ({"contract_id": "ctr_missing"}, "contract_id"),
        ({"contract_id": "pay_wrong_prefix"}, "contract_id"),
        ({"customer_id": "cust_nobody"}, "customer_id"),
    ],
)
def test_invalid_payments_are_400(finance_api, make_customer, change, field):
    make_customer("cust_12345")
    body = {"customer_id": "cust_12345", "amount": 100, "due_date": str(days(-1))}
    assert_problem(finance_api.post(PAYMENTS, {**body, **change}, format="json"), 400, field)
    assert not Payment.objects.exists() and events_of("payment_overdue") == []


@pytest.mark.django_db
def test_payment_errors(api, finance_api, make_customer, make_contract):
    make_customer("cust_12345")
    other = make_contract(make_customer("cust_other"), 100, days(-10), days(100))
    # A contract of another customer is refused.
    assert_problem(
        finance_api.post(
            PAYMENTS,
            {"customer_id": "cust_12345", "contract_id": other.pk, "amount": 1, "due_date": str(days(1))},
            format="json",
        ),
        400,
        "contract_id",
    )
    payment = services.payment_create(
        customer=Customer.objects.get(pk="cust_12345"), amount=1, due_date=days(1)
    )
    path = f"{PAYMENTS}/{payment.pk}"
    assert_problem(APIClient().patch(path, {}, format="json"), 401)
    assert (
        "finance:write"
        in assert_problem(api(scopes="finance:read").patch(path, {}, format="json"), 403)["detail"]
    )
    assert_problem(finance_api.get(f"{PAYMENTS}/pay_missing"), 404)
    assert_problem(finance_api.patch(path, {"paid_date": "2999-01-01"}, format="json"), 400, "paid_date")
    assert_problem(finance_api.patch(path, {"customer_id": "cust_other"}, format="json"), 400, "customer_id")
    unchanged = finance_api.patch(path, {"customer_id": "cust_12345", "amount": 2}, format="json")
    assert unchanged.status_code == 200, unchanged.content
    patched = openapi_document()["components"]["schemas"]["PatchedPaymentRequest"]["properties"]
    assert patched["customer_id"]["readOnly"] is True
    assert patched["due_date"]["pattern"] == patched["paid_date"]["pattern"] == full_date_pattern(1970, 2199)
    assert_problem(finance_api.delete(path), 405)


@pytest.mark.django_db
def test_the_standing_refresh_is_idempotent_and_the_check_finds_what_fell_due(make_customer):
    customers = [make_customer(f"cust_due{index}") for index in range(3)]
    # Payments due today: not overdue yet. Then the calendar moves on (their due dates move back a day).
    for customer in customers:
        services.payment_create(customer=customer, amount=100, due_date=days(0))
    assert events_of("payment_overdue") == []
    Payment.objects.filter(customer_id__in=["cust_due0", "cust_due1"]).update(due_date=days(-1))
    stats = services.payment_standings_check()
    assert (stats.checked, stats.became_overdue, stats.became_current) == (2, 2, 0)
    assert {event.customer_id for event in events_of("payment_overdue")} == {"cust_due0", "cust_due1"}
    assert services.payment_standings_check().checked == 0  # nothing left to change
    assert services.payment_standing_refresh(customer_ids=["cust_due0", "cust_due1", "cust_due2"]) == []
    # Settled outside the API (an import): the check announces it once.
    Payment.objects.filter(customer_id="cust_due0").update(paid_date=days(0))
    assert services.payment_standings_check().became_current == 1
    [current] = events_of("payments_current")
    assert current.customer_id == "cust_due0" and current.payload["payment_id"]
    assert finance_status("cust_due0") == "current" and finance_status("cust_due1") == "overdue"


@pytest.mark.django_db
def test_deleting_the_overdue_payment_makes_the_customer_current(make_customer):
    customer = make_customer("cust_12345")
    payment = services.payment_create(customer=customer, amount=100, due_date=days(-3))
    services.payment_delete(payment=payment)
    assert [event.event_type for event in events_of("payments_current")] == ["payments_current"]
    assert finance_status("cust_12345") == "current"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_beat_job_marks_payments_that_fell_due_in_a_real_worker(celery_worker, make_customer):
    from csintegration.tasks import enqueue

    customer = make_customer("cust_worker")
    with transaction.atomic():
        services.payment_create(customer=customer, amount=250, due_date=days(0))
    Payment.objects.filter(customer=customer).update(due_date=days(-1))  # a day later
    assert enqueue("finance.check_payment_standings")
    wait_until(lambda: PaymentStanding.objects.filter(customer=customer, is_overdue=True).exists())
    wait_until(lambda: finance_status("cust_worker") == "overdue")
    assert len(events_of("payment_overdue", "cust_worker")) == 1
    assert payment_signal("cust_worker") == 0.5
    # Run again: nothing changes, nothing is published again.
    assert enqueue("finance.check_payment_standings")
    Payment.objects.filter(customer=customer).update(paid_date=days(0))
    assert enqueue("finance.check_payment_standings")
    wait_until(lambda: finance_status("cust_worker") == "current")
    assert len(events_of("payment_overdue", "cust_worker")) == 1
    assert len(events_of("payments_current", "cust_worker")) == 1


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_payment_writes_announce_one_change(make_customer):
    """Two overdue payments of one customer written at once on PostgreSQL: the standing row lock lets
    exactly one of them publish payment_overdue."""
    customer = make_customer("cust_race")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(amount: int) -> None:
        try:
            barrier.wait(timeout=10)
            services.payment_create(
                customer=customer, amount=amount, due_date=days(-2) - timedelta(days=amount)
            )
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(amount,)) for amount in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert Payment.objects.filter(customer=customer).count() == 2
    assert len(events_of("payment_overdue", "cust_race")) == 1
    assert finance_status("cust_race") == "overdue"
