"""``manage.py generate_jwt_key``: prints a new RSA private key (PEM) for ``JWT_PRIVATE_KEY``."""

from django.core.management.base import BaseCommand

from csintegration.auth.rsa import RSA_KEY_BITS, new_rsa_private_key_pem


class Command(BaseCommand):
    help = (
        "Print a new RSA private key (PKCS#8 PEM) to set as JWT_PRIVATE_KEY. To rotate, move the current "
        "key to JWT_PRIVATE_KEYS_INACTIVE for at least the access-token lifetime."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bits", type=int, default=RSA_KEY_BITS, choices=(2048, 3072, 4096))

    def handle(self, *args, **options):
        self.stdout.write(new_rsa_private_key_pem(options["bits"]), ending="")
