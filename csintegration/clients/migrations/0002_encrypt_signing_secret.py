"""Store ``signing_secret`` AES-256-GCM encrypted: widen the column, then encrypt the existing values."""

from django.db import migrations, models

import csintegration.encryption.fields


def encrypt_existing(apps, schema_editor) -> None:
    # Reading passes legacy plain text through; saving through the encrypted field encrypts it.
    model = apps.get_model("clients", "IntegrationClient")
    clients = [client for client in model._base_manager.only("pk", "signing_secret") if client.signing_secret]
    model._base_manager.bulk_update(clients, ["signing_secret"], batch_size=500)


def decrypt_existing(apps, schema_editor) -> None:
    # A Value typed as plain text bypasses the encrypted field, so the column gets the plaintext back.
    model = apps.get_model("clients", "IntegrationClient")
    for client in model._base_manager.only("pk", "signing_secret"):
        if not client.signing_secret:
            continue
        model._base_manager.filter(pk=client.pk).update(
            signing_secret=models.Value(client.signing_secret, output_field=models.TextField())
        )


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="integrationclient",
            name="signing_secret",
            field=csintegration.encryption.fields.EncryptedCharField(
                blank=True,
                help_text="HMAC key for RFC 9421 request signatures (shown once; stored encrypted)",
                max_length=255,
            ),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing),
    ]
