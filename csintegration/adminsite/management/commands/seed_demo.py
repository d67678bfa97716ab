"""``manage.py seed_demo``: idempotent demo data. The platform's part is one OAuth client with every scope
and one admin with a TOTP device; each app adds its own data through its registered seeder
(``csintegration.seeding``). Prints what a person needs to log in and call the API."""

import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from csintegration.adminsite.totp import totp_device_enroll
from csintegration.clients.models import IntegrationClient
from csintegration.clients.services import client_create
from csintegration.seeding import run_demo_seeders

DEMO_CLIENT_NAME = "Demo integration"
DEMO_CLIENT_ID = "demo-integration-client"
DEMO_CLIENT_SECRET = "demo-client-secret-change-me"
DEMO_SIGNING_SECRET = "demo-signing-secret-change-me"
DEMO_ADMIN = ("admin", "admin@example.com", "admin-demo-password")
# The demo admin's TOTP key (base32), fixed so the README can say how to get a code; never in production.
DEMO_ADMIN_TOTP_KEY = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def seed_platform() -> TOTPDevice:
    """The demo client (every scope) and the demo admin with its TOTP device."""
    if not IntegrationClient.objects.filter(client_id=DEMO_CLIENT_ID).exists():
        client_create(
            name=DEMO_CLIENT_NAME,
            scopes=list(settings.API_SCOPES),
            client_id=DEMO_CLIENT_ID,
            client_secret=DEMO_CLIENT_SECRET,
            signing_secret=DEMO_SIGNING_SECRET,
            description="Demo client with every scope, created by seed_demo. Delete it in production.",
        )
    username, email, password = DEMO_ADMIN
    user_model = get_user_model()
    if not user_model.objects.filter(username=username).exists():
        user_model.objects.create_superuser(username=username, email=email, password=password)
    admin_user = user_model.objects.get(username=username)
    if not TOTPDevice.objects.filter(user=admin_user, confirmed=True).exists():
        totp_device_enroll(username=username, key_base32=DEMO_ADMIN_TOTP_KEY)
    return TOTPDevice.objects.filter(user=admin_user, confirmed=True).first()


class Command(BaseCommand):
    help = "Load demo data of every app, a demo OAuth client with every scope and a demo admin (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=300)
        parser.add_argument("--json", action="store_true", help="Print the demo credentials as JSON only")

    @transaction.atomic
    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("Demo data has published secrets; seed_demo refuses to run in production.")
        # The platform's part first: apps may give the demo client data of its own (webhook endpoints).
        totp_device = seed_platform()
        summaries = run_demo_seeders(customers=options["customers"], demo_client_id=DEMO_CLIENT_ID)
        username, _, password = DEMO_ADMIN
        credentials = {
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "signing_secret": DEMO_SIGNING_SECRET,
            "admin_username": username,
            "admin_password": password,
            "admin_totp_uri": totp_device.config_url,
        }
        if options["json"]:
            self.stdout.write(json.dumps(credentials))
            return
        for name, summary in summaries:
            self.stdout.write(f"Demo data, {name}: {summary}.")
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "  Admin           http://127.0.0.1:8000/admin/",
                    f"    login         {username} / {password}",
                    f"    2nd factor    current TOTP code: .venv/bin/python manage.py totp_code {username}",
                    f"                  (or add {totp_device.config_url} to an authenticator app)",
                    "  API docs        http://127.0.0.1:8000/api/docs/",
                    "  Demo OAuth client (every scope)",
                    f"    client_id      {DEMO_CLIENT_ID}",
                    f"    client_secret  {DEMO_CLIENT_SECRET}",
                    f"    signing_secret {DEMO_SIGNING_SECRET}",
                    "",
                ]
            )
        )
