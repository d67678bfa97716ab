"""``manage.py create_integration_client --name N --scopes "S1 S2"``: prints the new client's credentials."""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from csintegration.clients.services import client_create, parse_rate_limit_options


class Command(BaseCommand):
    help = "Create an OAuth client (client credentials grant) and print its secrets once, as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--scopes", required=True, help='Space-separated, e.g. "customers:read events:write"'
        )
        parser.add_argument(
            "--allowed-ips", default="", help="Comma-separated CIDRs; empty admits any address"
        )
        parser.add_argument(
            "--rate-limit",
            action="append",
            default=[],
            metavar="CATEGORY=N/PERIOD",
            help="Override a quota, e.g. realtime=500/hour (repeatable)",
        )
        parser.add_argument("--description", default="")

    def handle(self, *args, **options):
        try:
            credentials = client_create(
                name=options["name"],
                scopes=options["scopes"],
                allowed_ips=options["allowed_ips"],
                rate_limits=parse_rate_limit_options(options["rate_limit"]),
                description=options["description"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(json.dumps(credentials.as_dict()))
