"""Idempotency records keep the replayable answer encrypted, with its media type."""

import json

from django.db import migrations, models

import csintegration.encryption.fields


def encrypt_existing(apps, schema_editor):
    IdempotencyRecord = apps.get_model("api", "IdempotencyRecord")
    for record in IdempotencyRecord.objects.exclude(legacy_response_body=None).iterator():
        record.response_body = json.dumps(record.legacy_response_body)
        record.save(update_fields=["response_body"])


class Migration(migrations.Migration):
    dependencies = [("api", "0001_initial")]

    operations = [
        migrations.RenameField("idempotencyrecord", "response_body", "legacy_response_body"),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="response_body",
            field=csintegration.encryption.fields.EncryptedTextField(blank=True, default=""),
        ),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="response_content_type",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
        migrations.RunPython(encrypt_existing, migrations.RunPython.noop, elidable=True),
        migrations.RemoveField(model_name="idempotencyrecord", name="legacy_response_body"),
    ]
