"""Bodies the database or the parser cannot take are 4xx problems, never 500s."""

import json

import pytest

pytestmark = pytest.mark.django_db
CUSTOMERS = "/api/v1/cs-integration/customers"


def _post(client, path: str, body: str, **headers):
    return client.post(path, body, content_type="application/json", **headers)


def _assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    return response.json()


@pytest.mark.parametrize("idempotency_key", [None, "big-1"])
def test_a_body_over_the_limit_is_413(api, settings, idempotency_key, mailoutbox):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}
    body = json.dumps({"name": "x" * 2000})
    problem = _assert_problem(_post(api(), CUSTOMERS, body, **headers), 413)
    assert problem["type"].endswith("payload-too-large")
    assert mailoutbox == []  # a client's mistake, not an incident to mail to the operators


def test_a_form_over_the_limit_is_413_outside_the_api_views_too(client, settings, mailoutbox):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post(
        "/o/token/",
        "grant_type=client_credentials&x=" + "a" * 2000,
        content_type="application/x-www-form-urlencoded",
    )
    _assert_problem(response, 413)
    assert mailoutbox == []


def test_deeply_nested_documents_are_400(api):
    client = api()
    problem = _assert_problem(_post(client, CUSTOMERS, "[" * 100_000 + "]" * 100_000), 400)
    assert "nested" in problem["detail"]
    # Just past the bound, far below Python's recursion limit.
    too_deep = '{"name": "x", "a": ' + "[" * 32 + "]" * 32 + "}"
    _assert_problem(_post(client, CUSTOMERS, too_deep), 400)


def test_nan_is_not_json(api):
    _assert_problem(_post(api(), CUSTOMERS, '{"name": "x", "arr": NaN}'), 400)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (CUSTOMERS, {"name": "Acme", "segment": "\u0000x"}, "segment"),
        (CUSTOMERS, {"name": "Acme\u0000"}, "name"),
        (CUSTOMERS + "/cust_nul1/signals", {"signals": {"EZ9\u0000]": 1}}, "signals"),
        (CUSTOMERS, {"name": "ok", "tags": [{"a": "x"}, {"a": "\ud800"}]}, "tags.1.a"),
    ],
)
def test_strings_the_database_cannot_hold_are_400_naming_the_field(api, path, body, field):
    client = api(scopes="customers:read customers:write events:write")
    response = _post(client, path, json.dumps(body), HTTP_IDEMPOTENCY_KEY="nul-key")
    problem = _assert_problem(response, 400)
    assert problem["errors"][0]["field"] == field
    # The key's request is over: the same request gets the same answer, not a 409 "in progress".
    again = _post(client, path, json.dumps(body), HTTP_IDEMPOTENCY_KEY="nul-key")
    assert again.status_code == 400
