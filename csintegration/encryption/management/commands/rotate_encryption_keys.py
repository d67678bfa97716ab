"""``manage.py rotate_encryption_keys``: re-encrypt every encrypted value under the first key."""

from django.core.management.base import BaseCommand

from ...keys import key_ring
from ...rotation import BATCH_SIZE, rotate_all


class Command(BaseCommand):
    help = (
        "Re-encrypt every value of every encrypted field under the first key of FIELD_ENCRYPTION_KEYS "
        "(and encrypt any value still stored in plain text). Run it after putting a new key in front; "
        "remove the old key only afterwards."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)

    def handle(self, *args, batch_size: int, **options):
        self.stdout.write(f"Current key: {key_ring().current_kid}")
        for rotation in rotate_all(batch_size=batch_size):
            self.stdout.write(
                f"{rotation.label}: {rotation.examined} rows examined, {rotation.reencrypted} re-encrypted"
            )
        self.stdout.write(self.style.SUCCESS("Done."))
