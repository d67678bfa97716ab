"""The finance back-office, signed in with password and TOTP: every page renders, writes go through the
services (and publish what the API publishes), the retention table by month, forecasts with their
recomputation and discrepancies, and the finance panel of the customer's page; then the demo data."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from domains.customers.demo import seed_demo_customers
from domains.customers.models import Customer
from domains.finance import services
from domains.finance.demo import seed_demo_finance
from domains.finance.models import (
    Contract,
    Forecast,
    Payment,
    PaymentStanding,
    RenewalModelFit,
    ValueReport,
)
from domains.finance.periods import parse_period

from .conftest import days, events_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def books(make_customer, make_contract):
    customer = make_customer("cust_12345", health_score=85)
    contract = make_contract(customer, 120000, days(-30), days(334))
    payment = services.payment_create(customer=customer, amount=Decimal("10000"), due_date=days(-3))
    report = services.value_report_create(
        customer=customer, realized_value=Decimal("50000"), note="QBR notes"
    )
    forecast = services.forecast_submit(
        period=parse_period("2026-q2"),
        lines=[services.ForecastLineInput("cust_12345", 0.9, 0.5, Decimal("1000"))],
        aggregate_metrics={"total_forecasted_revenue": 999999},
    )
    services.renewal_model_refit()
    return customer, contract, payment, report, forecast


def test_every_finance_page_renders(staff_client, books):
    customer, contract, payment, report, forecast = books
    for model, obj in (
        ("contract", contract),
        ("payment", payment),
        ("valuereport", report),
        ("forecast", forecast),
        ("paymentstanding", PaymentStanding.objects.get(customer=customer)),
        ("renewalmodelfit", RenewalModelFit.objects.first()),
    ):
        listing = staff_client.get(reverse(f"admin:finance_{model}_changelist"))
        assert listing.status_code == 200, model
        page = staff_client.get(reverse(f"admin:finance_{model}_change", args=[obj.pk]))
        assert page.status_code == 200, model
    for model in ("contract", "payment", "valuereport"):
        assert staff_client.get(reverse(f"admin:finance_{model}_add")).status_code == 200
    assert staff_client.get(reverse("admin:finance_forecast_add")).status_code == 403
    overdue = staff_client.get(reverse("admin:finance_payment_changelist"), {"status": "overdue"})
    assert payment.pk in overdue.content.decode()
    assert (
        payment.pk
        not in staff_client.get(
            reverse("admin:finance_payment_changelist"), {"status": "paid"}
        ).content.decode()
    )


def test_the_forecast_page_shows_lines_recomputation_and_discrepancies(staff_client, books):
    forecast = books[4]
    page = staff_client.get(reverse("admin:finance_forecast_change", args=[forecast.pk])).content.decode()
    assert "aggregate_metrics.total_forecasted_revenue" in page  # the discrepancy
    assert "999999" in page and "computed by the server" in page
    assert "cust_12345" in page  # its line


def test_admin_writes_go_through_the_services(staff_client, make_customer):
    make_customer("cust_admin")
    added = staff_client.post(
        reverse("admin:finance_contract_add"),
        {
            "customer": "cust_admin",
            "contracted_value": "60000",
            "start_date": "2026-01-01",
            "end_date": "2026-06-30",
        },
    )
    assert added.status_code == 302, added.content
    assert Contract.objects.get(customer_id="cust_admin").arr == Decimal("120000.00")
    refused = staff_client.post(
        reverse("admin:finance_contract_add"),
        {
            "customer": "cust_admin",
            "contracted_value": "1",
            "start_date": "2026-02-01",
            "end_date": "2026-01-01",
        },
    )
    assert refused.status_code == 200 and Contract.objects.count() == 1

    staff_client.post(
        reverse("admin:finance_payment_add"),
        {"customer": "cust_admin", "amount": "500", "due_date": str(days(-10))},
    )
    payment = Payment.objects.get(customer_id="cust_admin")
    assert len(events_of("payment_overdue", "cust_admin")) == 1
    assert Customer.objects.get(pk="cust_admin").finance_status == "overdue"
    staff_client.post(
        reverse("admin:finance_payment_changelist"),
        {"action": "mark_paid_today", "_selected_action": [payment.pk]},
    )
    assert Payment.objects.get(pk=payment.pk).paid_date == days(0)
    assert len(events_of("payments_current", "cust_admin")) == 1

    staff_client.post(
        reverse("admin:finance_valuereport_add"),
        {
            "customer": "cust_admin",
            "realized_value": "1000",
            "reported_at_0": "2026-01-05",
            "reported_at_1": "10:00",
        },
    )
    assert ValueReport.objects.get(customer_id="cust_admin").realized_value == Decimal("1000")


def test_the_retention_table_by_month(staff_client, make_customer, make_contract):
    make_contract(make_customer("cust_kept"), 12000, date(2024, 1, 1), date(2030, 12, 31))
    make_contract(make_customer("cust_gone"), 12000, date(2024, 1, 1), days(-20))
    url = reverse("admin:finance_retention_by_month")
    page = staff_client.get(url, {"months": 3})
    assert page.status_code == 200
    rows = page.context["rows"]
    assert [row["period"] for row in rows][-1] == f"{days(0):%Y-%m}" and len(rows) == 3
    assert sum(row["churned_customers"] for row in rows) == 1
    html = page.content.decode()
    assert "retention-table" in html and "leave it out" in html
    assert "count it" in staff_client.get(url, {"include_reactivation": "false"}).content.decode()
    assert len(staff_client.get(url, {"months": "999"}).context["rows"]) == 36
    assert url in staff_client.get(reverse("admin:finance_contract_changelist")).content.decode()


def test_the_customer_page_shows_the_finance_panel(staff_client, books):
    page = staff_client.get(reverse("admin:customers_customer_change", args=["cust_12345"])).content.decode()
    assert "Contracts, payments and value" in page
    assert books[1].pk in page and books[2].pk in page
    assert "renewal probability" in page and "overdue" in page


def test_the_demo_data_is_realistic_and_idempotent():
    seed_demo_customers(customers=40)
    summary = seed_demo_finance()
    assert "contracts" in summary
    demo = Customer.objects.filter(pk__startswith="cust_demo")
    assert Contract.objects.filter(customer__in=demo).values("customer").distinct().count() == 40
    assert Payment.objects.exists() and ValueReport.objects.exists()
    assert Forecast.objects.filter(submitted_by="demo").count() == 1
    assert Forecast.objects.get(submitted_by="demo").discrepancies  # sent rounded up by hand
    assert RenewalModelFit.objects.exists()
    counts = (
        Contract.objects.count(),
        Payment.objects.count(),
        ValueReport.objects.count(),
        Forecast.objects.count(),
    )
    seed_demo_finance()
    assert (
        Contract.objects.count(),
        Payment.objects.count(),
        ValueReport.objects.count(),
        Forecast.objects.count(),
    ) == counts
