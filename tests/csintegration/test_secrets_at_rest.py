"""No secret that has an encrypted column of its own is stored in clear anywhere else: every column of
every table of the database is searched for the secrets a client's life created."""

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection

from tests.conftest import fetch_token

pytestmark = pytest.mark.django_db
WEBHOOKS = "/api/v1/cs-integration/webhooks"


def _every_stored_value():
    """(table, column, text) for every value of every table, read with raw SQL."""
    introspection = connection.introspection
    with connection.cursor() as cursor:
        for table in introspection.table_names(cursor):
            columns = [column.name for column in introspection.get_table_description(cursor, table)]
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, memoryview | bytes):
                        value = bytes(value).decode("latin1")
                    if value is not None:
                        yield (
                            table,
                            column,
                            value if isinstance(value, str) else json.dumps(value, default=str),
                        )


def test_no_secret_is_stored_in_clear(api, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    secrets: list[str] = []

    output = io.StringIO()
    call_command(
        "create_integration_client", "--name", "Billing sync", "--scopes", "customers:read", stdout=output
    )
    printed = json.loads(output.getvalue())
    secrets += [printed["client_secret"], printed["signing_secret"]]

    client = api(scopes="webhooks:manage")
    secrets += [client.integration.client_secret, client.integration.signing_secret]
    secrets.append(fetch_token(client.integration)["access_token"])
    for number in range(2):
        created = client.post(
            WEBHOOKS,
            {"url": f"http://127.0.0.1:9/hook/{number}", "events": ["*"]},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"create-{number}",
        )
        assert created.status_code == 201, created.content
        secrets.append(created.json()["secret"])
        rotated = client.post(
            f"{WEBHOOKS}/{created.json()['id']}/rotate-secret", HTTP_IDEMPOTENCY_KEY=f"rotate-{number}"
        )
        assert rotated.status_code == 200, rotated.content
        secrets.append(rotated.json()["secret"])
        # The replay still shows the secret to its client: it is stored, only not in clear.
        replayed = client.post(
            f"{WEBHOOKS}/{created.json()['id']}/rotate-secret", HTTP_IDEMPOTENCY_KEY=f"rotate-{number}"
        )
        assert replayed["Idempotent-Replayed"] == "true"
        assert replayed.json()["secret"] == rotated.json()["secret"]

    needles = set(secrets) | {
        secret.removeprefix("whsec_") for secret in secrets if secret.startswith("whsec_")
    }
    assert len(needles) == len(secrets) + 4
    leaks = [
        f"{table}.{column}"
        for table, column, text in _every_stored_value()
        for needle in needles
        if needle in text
    ]
    assert not leaks, f"secrets stored in clear in {sorted(set(leaks))}"
