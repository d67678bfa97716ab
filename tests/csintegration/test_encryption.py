"""Encryption at rest: AES-256-GCM values in the database, key ids, rotation, and start-up checks."""

import base64
import importlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.management import call_command
from django.db import connection, models
from django.test import override_settings

from csintegration.auth.rsa import new_rsa_private_key_pem
from csintegration.clients.models import IntegrationClient
from csintegration.encryption import keys
from csintegration.encryption.rotation import encrypted_fields

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
OLD_KEY = keys.generate_key_entry("old")
NEW_KEY = keys.generate_key_entry("new")


def stored_signing_secret(client_pk: int) -> str:
    """The column as the database holds it, read without the field's decryption."""
    table = connection.ops.quote_name(IntegrationClient._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT signing_secret FROM {table} WHERE id = %s", [client_pk])
        return cursor.fetchone()[0]


def test_the_column_holds_no_plaintext(make_integration_client):
    credentials = make_integration_client()
    stored = stored_signing_secret(credentials.client.pk)

    assert credentials.signing_secret not in stored
    assert stored.startswith(f"enc:v1:{keys.key_ring().current_kid}:")
    nonce_and_ciphertext = base64.b64decode(stored.split(":", 3)[3])
    # 96-bit nonce, the ciphertext (as long as the plaintext) and the 128-bit GCM tag
    assert len(nonce_and_ciphertext) == 12 + len(credentials.signing_secret.encode()) + 16
    assert (
        IntegrationClient.objects.get(pk=credentials.client.pk).signing_secret == credentials.signing_secret
    )


def test_equal_values_encrypt_differently_and_tampering_is_detected():
    first, second = keys.encrypt("same secret"), keys.encrypt("same secret")
    assert first != second
    assert keys.decrypt(first) == keys.decrypt(second) == "same secret"

    header, _, body = first.rpartition(":")
    blob = bytearray(base64.b64decode(body))
    blob[-1] ^= 1
    with pytest.raises(keys.DecryptionError):
        keys.decrypt(f"{header}:{base64.b64encode(bytes(blob)).decode()}")
    # The key id is authenticated: relabelling a value with another configured key fails as well.
    with override_settings(FIELD_ENCRYPTION_KEYS=[*settings.FIELD_ENCRYPTION_KEYS, OLD_KEY]):
        relabelled = first.replace(f":{keys.key_ring().current_kid}:", ":old:", 1)
        with pytest.raises(keys.DecryptionError):
            keys.decrypt(relabelled)


def test_rotation_reencrypts_every_value_under_the_new_key(make_integration_client):
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        clients = [make_integration_client(name=f"client {index}") for index in range(3)]
        assert {stored_signing_secret(c.client.pk).split(":")[2] for c in clients} == {"old"}

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        # Before the rotation the old values still decrypt, through the second key.
        assert (
            IntegrationClient.objects.get(pk=clients[0].client.pk).signing_secret == clients[0].signing_secret
        )
        output = io.StringIO()
        call_command("rotate_encryption_keys", batch_size=2, stdout=output)
        assert "3 rows examined, 3 re-encrypted" in output.getvalue()

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        for credentials in clients:
            assert stored_signing_secret(credentials.client.pk).startswith("enc:v1:new:")
            stored = IntegrationClient.objects.get(pk=credentials.client.pk)
            assert stored.signing_secret == credentials.signing_secret

    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        with pytest.raises(keys.DecryptionError, match="'new'"):
            IntegrationClient.objects.get(pk=clients[0].client.pk)


def test_rotation_and_migration_encrypt_values_left_in_plain_text(make_integration_client):
    first, second = make_integration_client(name="one"), make_integration_client(name="two")
    for credentials in (first, second):
        IntegrationClient.objects.filter(pk=credentials.client.pk).update(
            signing_secret=models.Value(credentials.signing_secret, output_field=models.TextField())
        )
        assert stored_signing_secret(credentials.client.pk) == credentials.signing_secret
        # A legacy plaintext value still reads back.
        assert (
            IntegrationClient.objects.get(pk=credentials.client.pk).signing_secret
            == credentials.signing_secret
        )

    migration = importlib.import_module("csintegration.clients.migrations.0002_encrypt_signing_secret")
    migration.encrypt_existing(apps, None)
    assert keys.is_encrypted(stored_signing_secret(first.client.pk))

    call_command("rotate_encryption_keys", stdout=io.StringIO())
    for credentials in (first, second):
        stored = stored_signing_secret(credentials.client.pk)
        assert keys.is_encrypted(stored) and credentials.signing_secret not in stored
        assert (
            IntegrationClient.objects.get(pk=credentials.client.pk).signing_secret
            == credentials.signing_secret
        )

    migration.decrypt_existing(apps, None)
    assert stored_signing_secret(second.client.pk) == second.signing_secret


def test_encrypted_columns_cannot_be_searched():
    with pytest.raises(FieldError):
        list(IntegrationClient.objects.filter(signing_secret="guess"))
    assert IntegrationClient.objects.filter(signing_secret__isnull=True).count() == 0


def _raw_column(model, column: str, pk) -> str:
    """A column as the database holds it: raw SQL, so no field decrypts it on the way."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_client_and_webhook_secrets_are_ciphertext_in_their_columns(make_integration_client, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    from webhooks import endpoints as webhook_services
    from webhooks.models import WebhookEndpoint

    credentials = make_integration_client(scopes="webhooks:manage")
    endpoint, first_secret = webhook_services.endpoint_create(
        client=credentials.client, url="http://127.0.0.1:9/hook", event_types=["*"]
    )
    current_secret = webhook_services.endpoint_rotate_secret(endpoint=endpoint)
    columns = [
        (IntegrationClient, "signing_secret", credentials.client.pk, credentials.signing_secret),
        (WebhookEndpoint, "secret", endpoint.pk, current_secret),
        (WebhookEndpoint, "previous_secret", endpoint.pk, first_secret),
    ]
    for model, column, pk, plaintext in columns:
        stored = _raw_column(model, column, pk)
        assert keys.is_encrypted(stored), f"{model._meta.label}.{column} is stored in clear"
        assert plaintext not in stored and plaintext.removeprefix("whsec_") not in stored
        assert keys.decrypt(stored) == plaintext
    # Rotation re-encrypts every one of these columns: none of them may escape its discovery.
    found = {(model._meta.label, name) for model, names in encrypted_fields() for name in names}
    assert {
        ("clients.IntegrationClient", "signing_secret"),
        ("webhooks.WebhookEndpoint", "secret"),
        ("webhooks.WebhookEndpoint", "previous_secret"),
    } <= found


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([], "empty"),
        (["no-separator"], "kid:base64key"),
        (["k1:not base64!"], "not valid base64"),
        ([f"k1:{base64.b64encode(b'short').decode()}"], "AES-256 needs 32"),
        ([OLD_KEY, OLD_KEY], "twice"),
    ],
)
def test_malformed_keys_are_refused(entries, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        keys.parse_key_entries(entries)


def test_production_without_a_key_stops_start_up(tmp_path):
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"FIELD_ENCRYPTION_KEYS", "DATABASE_URL"}
    }
    environment.update(
        ENVIRONMENT="production",
        SECRET_KEY="x" * 64,
        JWT_PRIVATE_KEY=new_rsa_private_key_pem(),
        VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="csintegration.settings",
    )
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "FIELD_ENCRYPTION_KEYS must be set in the environment" in result.stderr
    assert not (tmp_path / "field_encryption_keys").exists()
