"""Contracts and value reports through the API with real tokens: success paths, filters and every error
path; the value report's note is encrypted at rest and never leaves in an event."""

import json
from decimal import Decimal

import pytest
from django.db import connection
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from rest_framework.test import APIClient

from csintegration.api.models import IdempotencyRecord
from csintegration.events.models import Event
from domains.finance.models import Contract, ValueReport

from .conftest import BASE, assert_problem, days

pytestmark = pytest.mark.django_db

CONTRACTS = f"{BASE}/contracts"
VALUE_REPORTS = f"{BASE}/value-reports"


def test_create_get_list_and_correct_a_contract(finance_api, make_customer):
    client = finance_api
    make_customer("cust_12345")
    body = {
        "customer_id": "cust_12345",
        "contracted_value": 300000,
        "start_date": "2026-01-01",
        "end_date": "2027-06-30",
    }
    created = client.post(CONTRACTS, body, format="json")
    assert created.status_code == 201, created.content
    contract = created.json()
    assert contract["contract_id"].startswith("ctr_")
    assert created["Location"].endswith(f"{CONTRACTS}/{contract['contract_id']}")
    # 300 000 over 18 months is 200 000 a year.
    assert contract["arr"] == 200000 and contract["contracted_value"] == 300000
    assert contract["created_at"].endswith("Z")
    assert Contract.objects.get(pk=contract["contract_id"]).arr == Decimal("200000.00")

    fetched = client.get(f"{CONTRACTS}/{contract['contract_id']}/").json()
    assert fetched == contract

    patched = client.patch(
        f"{CONTRACTS}/{contract['contract_id']}", {"end_date": "2026-12-31"}, format="json"
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["arr"] == 300000  # the same value over 12 months
    assert Contract.objects.get(pk=contract["contract_id"]).arr == Decimal("300000.00")

    listed = client.get(CONTRACTS, {"customer_id": "cust_12345"}).json()
    assert [row["contract_id"] for row in listed["results"]] == [contract["contract_id"]]


def test_the_largest_value_over_the_shortest_term_is_stored(finance_api, make_customer):
    make_customer("cust_12345")
    body = {"customer_id": "cust_12345", "contracted_value": 999999999999.99, "start_date": "2026-01-01"}
    response = finance_api.post(CONTRACTS, {**body, "end_date": "2026-01-01"}, format="json")
    assert response.status_code == 201, response.content
    # One day of January is 1/31 of a month: the ARR is 372 times the value (SQLite keeps 15 digits).
    assert float(Contract.objects.get().arr) == pytest.approx(999999999999.99 * 372, rel=1e-14)


def test_contract_filters_and_ordering(finance_api, make_customer, make_contract):
    customer = make_customer("cust_filters")
    ended = make_contract(customer, 100, days(-400), days(-35))
    current = make_contract(customer, 200, days(-30), days(335))
    future = make_contract(customer, 300, days(336), days(700))
    client = finance_api

    def ids(**params):
        return [row["contract_id"] for row in client.get(CONTRACTS, params).json()["results"]]

    assert ids(in_force_on=str(days(0))) == [current.pk]
    assert ids(in_force_on=str(days(-100))) == [ended.pk]
    assert set(ids(ends_after=str(days(0)))) == {current.pk, future.pk}
    assert ids(ends_before=str(days(0))) == [ended.pk]
    assert ids(ordering="contracted_value") == [ended.pk, current.pk, future.pk]
    assert ids(ordering="-end_date") == [future.pk, current.pk, ended.pk]
    assert [
        row["in_force"] for row in client.get(CONTRACTS, {"ordering": "start_date"}).json()["results"]
    ] == [
        False,
        True,
        False,
    ]
    assert_problem(client.get(CONTRACTS, {"in_force_on": "yesterday"}), 400, "in_force_on")
    assert_problem(client.get(CONTRACTS, {"customer_id": ""}), 400, "customer_id")
    assert_problem(client.get(CONTRACTS, {"ordering": "secret"}), 400, "ordering")
    assert_problem(client.get(CONTRACTS, {"page_size": 501}), 400, "page_size")


def test_an_amount_is_rounded_to_the_cent_within_the_range_the_schema_states(finance_api, make_customer):
    # JSON Schema's multipleOf cannot say "cents" of a binary float (0.57 / 0.01 is not whole), so the
    # schema states the range and a float's extra digits are rounded half-even, as every amount is.
    make_customer("cust_12345")
    body = {"customer_id": "cust_12345", "start_date": "2026-01-01", "end_date": "2026-12-31"}
    created = finance_api.post(CONTRACTS, {**body, "contracted_value": 1.235}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["contracted_value"] == 1.24
    largest = finance_api.post(CONTRACTS, {**body, "contracted_value": 999999999999.99}, format="json")
    assert largest.status_code == 201, largest.content
    schema = json.loads(
        OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True))
    )["components"]["schemas"]["ContractRequest"]["properties"]
    assert schema["contracted_value"] == {
        "type": "number",
        "minimum": 0.0,
        "maximum": 999999999999.99,
        "description": "The value over the whole term",
    }
    assert schema["start_date"]["pattern"].startswith("^(197\\d|198\\d|")
    assert schema["start_date"]["pattern"].endswith("|219\\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"contracted_value": -1}, "contracted_value"),
        ({"contracted_value": "1000"}, "contracted_value"),
        ({"contracted_value": True}, "contracted_value"),
        ({"contracted_value": 1_000_000_000_000}, "contracted_value"),
        ({"start_date": "2026-02-30"}, "start_date"),
        ({"start_date": "20260101"}, "start_date"),
        ({"start_date": "2026-W01-1"}, "start_date"),
        ({"end_date": "2025-12-31"}, "end_date"),
        ({"start_date": "0001-01-01"}, "start_date"),
        ({"end_date": "9999-12-31"}, "end_date"),
        ({"customer_id": "cust_nobody"}, "customer_id"),
        ({"customer_id": "acct_12345"}, "customer_id"),
    ],
)
def test_invalid_contracts_are_400_with_dotted_fields(finance_api, make_customer, change, field):
    make_customer("cust_12345")
    body = {
        "customer_id": "cust_12345",
        "contracted_value": 1000,
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
    }
    assert_problem(
        finance_api.post(CONTRACTS, {**body, **change}, format="json"), 400, field, "validation-error"
    )
    assert not Contract.objects.exists()


def test_contract_errors(api, finance_api, make_customer, make_contract):
    customer = make_customer("cust_12345")
    contract = make_contract(customer, 1000, days(0), days(364))
    path = f"{CONTRACTS}/{contract.pk}"
    missing = {"contracted_value": 1}
    assert_problem(finance_api.post(CONTRACTS, missing, format="json"), 400, "customer_id")
    assert_problem(APIClient().get(CONTRACTS), 401)
    assert APIClient().get(CONTRACTS)["WWW-Authenticate"].startswith("Bearer")
    reader = api(scopes="finance:read")
    refused = assert_problem(reader.patch(path, {"end_date": str(days(10))}, format="json"), 403)
    assert "finance:write" in refused["detail"]
    assert "finance:read" in assert_problem(api(scopes="customers:read").get(path), 403)["detail"]
    assert_problem(finance_api.get(f"{CONTRACTS}/ctr_missing"), 404)
    assert_problem(finance_api.patch(path, {"end_date": str(days(-1))}, format="json"), 400, "end_date")
    assert_problem(finance_api.patch(path, {"customer_id": "cust_other"}, format="json"), 400, "customer_id")
    assert_problem(finance_api.put(path, {}, format="json"), 405)
    assert_problem(finance_api.delete(path), 405)
    assert_problem(finance_api.post(CONTRACTS, data="{not json", content_type="application/json"), 400)
    assert_problem(finance_api.post(CONTRACTS, data="customer_id=x", content_type="text/plain"), 415)
    assert Contract.objects.get(pk=contract.pk).end_date == days(364)


def _stored_note(value_report_id: str) -> str:
    table = connection.ops.quote_name(ValueReport._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT note FROM {table} WHERE value_report_id = %s", [value_report_id])
        return cursor.fetchone()[0]


def test_value_reports_keep_their_note_encrypted(finance_api, make_customer):
    make_customer("cust_12345")
    note = "Saved 1.2M in freight costs; confidential until the earnings call"
    created = finance_api.post(
        VALUE_REPORTS,
        {
            "customer_id": "cust_12345",
            "realized_value": 180000,
            "note": note,
            "reported_at": "2026-01-15T10:00:00Z",
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="report-1",
    )
    assert created.status_code == 201, created.content
    report = created.json()
    assert report["value_report_id"].startswith("vr_") and report["has_note"] is True
    assert "note" not in report  # a POST's answer is kept for replays: the note is not in it
    assert report["reported_at"] == "2026-01-15T10:00:00Z"
    stored = _stored_note(report["value_report_id"])
    assert stored.startswith("enc:v1:") and note not in stored and "freight" not in stored
    assert ValueReport.objects.get(pk=report["value_report_id"]).note == note
    assert not any("freight" in str(event.payload) for event in Event.objects.all())
    assert not any("freight" in str(record.response_body) for record in IdempotencyRecord.objects.all())
    listed = finance_api.get(VALUE_REPORTS, {"customer_id": "cust_12345"}).json()["results"]
    assert [row["value_report_id"] for row in listed] == [report["value_report_id"]]
    assert listed[0]["note"] == note
    assert finance_api.get(f"{VALUE_REPORTS}/{report['value_report_id']}").json()["note"] == note


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"realized_value": -5}, "realized_value"),
        ({"realized_value": None}, "realized_value"),
        ({"reported_at": "2999-01-01T00:00:00Z"}, "reported_at"),
        ({"note": "x" * 5001}, "note"),
        ({"customer_id": "cust_nobody"}, "customer_id"),
    ],
)
def test_invalid_value_reports_are_400(finance_api, make_customer, change, field):
    make_customer("cust_12345")
    body = {"customer_id": "cust_12345", "realized_value": 10}
    assert_problem(finance_api.post(VALUE_REPORTS, {**body, **change}, format="json"), 400, field)
    assert not ValueReport.objects.exists()


def test_value_report_errors(api, finance_api):
    assert_problem(APIClient().post(VALUE_REPORTS, {}, format="json"), 401)
    assert_problem(api(scopes="finance:read").post(VALUE_REPORTS, {}, format="json"), 403)
    assert_problem(finance_api.get(f"{VALUE_REPORTS}/vr_missing"), 404)
    assert_problem(finance_api.patch(f"{VALUE_REPORTS}/vr_missing", {}, format="json"), 405)
    assert_problem(finance_api.get(VALUE_REPORTS, {"reported_after": "last week"}), 400, "reported_after")
