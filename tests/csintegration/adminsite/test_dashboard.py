"""The admin's first screen and the customer 360: every figure equals the count of the list it links to,
the charts' numbers are the stored data's, the queries do not grow with the data, and the sidebar is
grouped by what staff do."""

import re
from datetime import timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from domains.customers import health, services
from domains.customers.models import Customer, HealthSnapshot

pytestmark = pytest.mark.django_db

FIGURE = re.compile(
    r'<a class="bo-figure[^"]*" href="([^"]+)" data-figure="([^"]+)" data-count="(\d+)">\s*'
    r'<span class="bo-figure-value">([^<]*)</span>'
)


def _figures(page: str) -> list[tuple[str, str, int, str]]:
    return [(unescape(href), label, int(count), value) for href, label, count, value in FIGURE.findall(page)]


def _customers(n: int, offset: int = 0) -> None:
    levels = ["low", "medium", "high", "critical"]
    Customer.objects.bulk_create(
        Customer(
            customer_id=f"cust_dash{offset + i:04d}",
            name=f"Dash {offset + i}",
            health_score=(offset + i) * 7 % 101,
            risk_level=levels[(offset + i) % 4],
            lifecycle_stage=["onboarding", "adoption", "at_risk"][(offset + i) % 3],
            arr=Decimal(1000 * (offset + i + 1)),
        )
        for i in range(n)
    )


def test_every_figure_equals_the_count_of_the_list_behind_it(staff_client):
    _customers(23)
    page = staff_client.get("/admin/").content.decode()
    figures = _figures(page)
    labels = {label for _, label, _, _ in figures}
    assert {
        "Critical risk",
        "High risk",
        "ARR at risk (high + critical)",
        "Churn-risk episodes open",
    } <= labels
    assert {"Open tasks", "Overdue tasks", "Failing endpoints", "Campaigns running"} <= labels
    assert len(figures) >= 20
    for href, label, count, value in figures:
        listed = staff_client.get(href)
        assert listed.status_code == 200, (label, href)
        assert listed.context["cl"].result_count == count, (label, href)
        if value.isdigit():
            assert int(value) == count, label
    at_risk = Customer.objects.filter(risk_level__in=("high", "critical"))
    arr = sum(c.arr for c in at_risk)
    assert ("ARR at risk (high + critical)", f"${arr:,.0f}") in {(f[1], f[3]) for f in figures}


def test_the_health_histogram_counts_the_customers_of_each_band(staff_client):
    _customers(40)
    page = staff_client.get("/admin/").content.decode()
    svg = re.search(r'<svg class="chart chart-histogram".*?</svg>', page, re.S).group(0)
    bars = re.findall(r'data-label="(\d+)-(\d+)" data-value="(\d+)".*?height="([\d.]+)"', svg)
    assert len(bars) == 10
    plot = float(re.search(r'data-plot-height="([\d.]+)"', svg).group(1))
    largest = max(int(value) for _, _, value, _ in bars)
    for low, high, value, height in bars:
        expected = Customer.objects.filter(health_score__gte=int(low), health_score__lte=int(high)).count()
        assert int(value) == expected
        assert float(height) == pytest.approx(plot * expected / largest, abs=0.01)
    assert sum(int(value) for _, _, value, _ in bars) == Customer.objects.count()


def test_the_at_risk_table_lists_critical_first_then_by_arr_and_says_why(staff_client):
    _customers(12)
    page = staff_client.get("/admin/").content.decode()
    table = re.search(r'id="section-risk".*?<table class="bo-table">(.*?)</table>', page, re.S).group(1)
    names = re.findall(r'/admin/customers/customer/[^/]+/change/">([^<]+)</a>', table)
    expected = [
        c.name
        for c in sorted(
            Customer.objects.filter(risk_level__in=("high", "critical")),
            key=lambda c: (c.risk_level != "critical", -c.arr),
        )
    ]
    assert names == expected[:10]
    assert "no score recorded yet" in table  # these rows have no history: said so, not made up


def test_the_dashboard_costs_the_same_queries_for_ten_or_a_hundred_customers(staff_client):
    _customers(10)
    staff_client.get("/admin/")
    with CaptureQueriesContext(connection) as few:
        staff_client.get("/admin/")
    _customers(90, offset=10)
    with CaptureQueriesContext(connection) as many:
        staff_client.get("/admin/")
    assert len(many) == len(few) and len(few) < 60


def test_the_customer_list_puts_critical_first_then_the_largest_accounts(staff_client):
    _customers(16)
    listed = staff_client.get("/admin/customers/customer/").context["cl"].result_list
    keys = [({"critical": 0, "high": 1, "medium": 2, "low": 3}[c.risk_level], -c.arr) for c in listed]
    assert keys == sorted(keys)


def test_the_sidebar_is_grouped_by_what_staff_do(staff_client):
    page = staff_client.get("/admin/").content.decode()
    groups = re.findall(r"<h2 [^>]*>\s*([A-Z][a-z]+)\s*<", page)
    expected = ["Customers", "Revenue", "Product", "Operations", "Integrations", "Security", "Schedules"]
    remaining = iter(groups)
    assert all(group in remaining for group in expected), groups  # in this order
    items = (
        *("Customers", "Segments", "Journeys", "Handoffs", "Opportunities", "Contracts", "Forecasts"),
        *("Features", "Feedback", "My tasks", "Workflow runs", "Automation rules", "Playbooks"),
        *("Event log", "Webhook endpoints", "Deliveries", "OAuth clients"),
        *("Audit log", "Admin devices", "Lockouts", "Signatures", "Periodic jobs"),
    )
    for item in items:
        assert re.search(rf">\s*{item}\s*<", page), item


def _scored_customer() -> Customer:
    customer = services.customer_create(
        customer_id="cust_360", data={"name": "Three Sixty", "health_score": 60}
    )
    now = timezone.now()
    for days_ago, logins, nps in ((80, 20.0, 50.0), (40, 14.0, 30.0), (10, 6.0, 10.0), (1, 3.0, -20.0)):
        health.health_signals_record(
            items=[
                health.SignalInput(
                    "cust_360",
                    {"login_frequency": logins, "nps": nps},
                    observed_at=now - timedelta(days=days_ago),
                )
            ]
        )
    # The initial score as if the customer had been added 85 days ago, before those signals.
    HealthSnapshot.objects.filter(customer=customer, source="initial").update(
        observed_at=now - timedelta(days=85)
    )
    return customer


def test_the_360_reads_first_with_the_90_day_chart_and_the_breakdown(staff_client):
    customer = _scored_customer()
    HealthSnapshot.objects.create(
        customer=customer, score=99, health_trend="stable", risk_level="low", source="manual",
        observed_at=timezone.now() - timedelta(days=120),
    )  # fmt: skip
    page = staff_client.get(f"/admin/customers/customer/{customer.pk}/change/").content.decode()
    assert 'id="customer-360"' in page and 'href="?edit=1"' in page and 'name="health_score"' not in page
    applied = list(
        HealthSnapshot.objects.filter(
            customer=customer, applied=True, observed_at__gte=timezone.now() - timedelta(days=90)
        ).order_by("observed_at", "id")
    )
    chart = re.search(r'<svg class="chart chart-line".*?</svg>', page, re.S).group(0)
    points = [int(value) for value in re.findall(r'<circle [^>]*data-value="(\d+)"', chart)]
    assert points == [snapshot.score for snapshot in applied] and len(points) >= 4  # not the 120-day-old one

    latest, previous = applied[-1], applied[-2]
    breakdown = re.search(r'id="section-breakdown".*?</svg>', page, re.S).group(0)
    bars = re.findall(r'data-label="([a-z_]+)" data-value="([\d.]+)".*?height="([\d.]+)"', breakdown)
    by_measure = {entry["measure"]: entry for entry in latest.breakdown}
    assert {measure for measure, _, _ in bars} == set(by_measure)
    plot = float(re.search(r'data-plot-height="([\d.]+)"', breakdown).group(1))
    scale = max(100 * entry["weight_share"] for entry in latest.breakdown)
    for measure, value, height in bars:
        assert float(value) == pytest.approx(by_measure[measure]["contribution"])
        assert float(height) == pytest.approx(plot * float(value) / scale, abs=0.01)
    before = {entry["measure"]: entry["contribution"] for entry in previous.breakdown}
    login_delta = by_measure["login_frequency"]["contribution"] - before["login_frequency"]
    assert login_delta < 0 and f"{round(login_delta, 2):+g} pts" in page


def test_the_edit_form_is_behind_the_button_and_the_score_stays_the_engines(staff_client):
    customer = _scored_customer()
    form = staff_client.get(f"/admin/customers/customer/{customer.pk}/change/?edit=1").content.decode()
    assert 'name="name"' in form and 'name="health_score"' not in form and 'name="risk_level"' not in form
    score = Customer.objects.get(pk=customer.pk).health_score
    response = staff_client.post(
        "/admin/customers/customer/",
        {"action": "recompute_health", "_selected_action": [customer.pk]},
    )
    assert response.status_code == 302
    assert Customer.objects.get(pk=customer.pk).health_score == score  # recomputed from the same signals
