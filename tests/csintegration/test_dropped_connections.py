"""A PostgreSQL backend terminated under a request (a restart, a failover, an operator's
``pg_terminate_backend``): the request runs again on a fresh connection when nothing was written yet,
and is otherwise a 503 with ``Retry-After``, never a 500."""

import psycopg
import pytest
from django.db import connection
from django.test import Client

from csintegration.api.models import IdempotencyRecord
from domains.customers.models import Customer

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
CUSTOMERS = "/api/v1/cs-integration/customers"


def _terminate(pid: int) -> None:
    """From a second connection, as an operator or a failover would."""
    params = connection.get_connection_params()
    with psycopg.connect(
        **{
            key: value
            for key, value in params.items()
            if key in ("dbname", "user", "host", "port", "password")
        },
        autocommit=True,
    ) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]


def _terminate_current_backend() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        _terminate(cursor.fetchone()[0])


@pytest.fixture
def client(api):
    client = api()
    client.raise_request_exception = False
    return client


def test_a_read_is_run_again_on_a_fresh_connection(client):
    _terminate_current_backend()
    response = client.get(CUSTOMERS)
    assert response.status_code == 200, response.content


def test_a_write_that_wrote_nothing_yet_is_run_again(client):
    _terminate_current_backend()
    response = client.post(CUSTOMERS, {"name": "Retried"}, format="json", HTTP_IDEMPOTENCY_KEY="retried-1")
    assert response.status_code == 201, response.content
    assert Customer.objects.filter(name="Retried").count() == 1


def test_a_write_that_already_wrote_is_a_503_with_retry_after(client):
    """The backend dies right after the request's first INSERT (its idempotency claim)."""
    terminated = []

    def terminate_after_first_insert(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not terminated and sql.lstrip().upper().startswith("INSERT"):
            terminated.append(True)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                _terminate(cursor.fetchone()[0])
        return result

    with connection.execute_wrapper(terminate_after_first_insert):
        response = client.post(CUSTOMERS, {"name": "Half"}, format="json", HTTP_IDEMPOTENCY_KEY="half-1")
    assert terminated
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/problem+json" and response["Retry-After"] == "1"
    assert response.json()["type"].endswith("database-unavailable")
    assert not Customer.objects.filter(name="Half").exists()
    # The client's retry with the same key runs: the claim was released, or was never committed.
    assert IdempotencyRecord.objects.filter(key="half-1", state="completed").count() == 0
    again = client.post(CUSTOMERS, {"name": "Half"}, format="json", HTTP_IDEMPOTENCY_KEY="half-1")
    assert again.status_code == 201, again.content


def test_the_token_endpoint_answers_503_not_500(make_integration_client, monkeypatch):
    from django.db import OperationalError
    from oauth2_provider.views import TokenView

    from tests.conftest import basic_auth

    credentials = make_integration_client()

    def database_down(self, request, *args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(TokenView, "post", database_down)
    client = Client(raise_request_exception=False)
    response = client.post(
        "/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=basic_auth(credentials)
    )
    assert response.status_code == 503 and response["Retry-After"] == "1"
    assert response["Content-Type"] == "application/problem+json"
