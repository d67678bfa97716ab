"""``manage.py enroll_totp USERNAME``: give a staff user a (new) TOTP device and show how to add it."""

import io

from django.core.management.base import BaseCommand, CommandError

from ...totp import totp_device_enroll


class Command(BaseCommand):
    help = (
        "Create, or replace, the confirmed TOTP device of USERNAME and print its otpauth:// provisioning "
        "URI (and a QR code) for an authenticator app. The admin asks for its 6-digit code at login."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--key", help="base32 key to use instead of a random one (e.g. a shared demo key)"
        )
        parser.add_argument("--no-qr", action="store_true", help="print the URI only")

    def handle(self, *args, username: str, key: str | None, no_qr: bool, **options):
        try:
            device = totp_device_enroll(username=username, key_base32=key)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"TOTP device enrolled for {username}. Add it to an authenticator app:")
        self.stdout.write(device.config_url)
        if not no_qr:
            import qrcode

            qr = qrcode.QRCode(border=1)
            qr.add_data(device.config_url)
            buffer = io.StringIO()
            qr.print_ascii(out=buffer, invert=True)
            self.stdout.write(buffer.getvalue())
