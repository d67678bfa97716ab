"""``manage.py totp_code USERNAME``: the current TOTP code of a user's device (for demo instances)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ...totp import totp_current_code


class Command(BaseCommand):
    help = (
        "Print the current 6-digit TOTP code of USERNAME's device. Only for development and demo "
        "instances: refused when ENVIRONMENT=production."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        if settings.PRODUCTION:
            raise CommandError("totp_code is refused in production: use the user's authenticator app.")
        try:
            self.stdout.write(totp_current_code(username=username))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
