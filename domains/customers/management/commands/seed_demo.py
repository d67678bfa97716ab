"""``manage.py seed_demo``: idempotent demo data — customers across segments, stages and risk levels,
one OAuth client with every scope, one admin user. Prints what a person needs to log in and call the API."""

import json
import random
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from csintegration.adminsite.totp import totp_device_enroll
from csintegration.clients.models import IntegrationClient
from csintegration.clients.services import client_create
from domains.customers.models import (
    PAYMENT_STATUS_VALUES,
    Customer,
    CustomerSignal,
    FinanceStatus,
    HealthTrend,
    LifecycleStage,
    MarketingStatus,
    OperationsStatus,
    ProductStatus,
    SalesStatus,
    Segment,
)
from domains.customers.scoring import compute_health, risk_level_for_score
from domains.customers.selectors import scorecard_for, scorecard_specs
from domains.customers.services import health_recompute_customers

DEMO_CLIENT_NAME = "Demo integration"
DEMO_CLIENT_ID = "demo-integration-client"
DEMO_CLIENT_SECRET = "demo-client-secret-change-me"
DEMO_SIGNING_SECRET = "demo-signing-secret-change-me"
DEMO_ADMIN = ("admin", "admin@example.com", "admin-demo-password")
# The demo admin's TOTP key (base32), fixed so the README can say how to get a code; never in production.
DEMO_ADMIN_TOTP_KEY = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

_PREFIXES = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Aperture",
    "Wonka",
    "Gringotts",
    "Oscorp",
    "Nakatomi",
    "Monarch",
    "Virtucon",
    "Pied Piper",
    "Massive Dynamic",
)
_SUFFIXES = (
    "Labs",
    "Systems",
    "Health",
    "Logistics",
    "Analytics",
    "Retail",
    "Energy",
    "Media",
    "Foods",
    "Robotics",
    "Capital",
    "Software",
    "Networks",
    "Mobility",
    "Bio",
)
_MANAGERS = (
    "sarah.smith@example.com",
    "li.wei@example.com",
    "omar.haddad@example.com",
    "ana.costa@example.com",
)
_ARR_RANGES = {
    Segment.ENTERPRISE: (150_000, 900_000),
    Segment.MID_MARKET: (30_000, 150_000),
    Segment.SMALL_BUSINESS: (3_000, 30_000),
}


def demo_name(index: int) -> str:
    prefix = _PREFIXES[index % len(_PREFIXES)]
    suffix = _SUFFIXES[(index // len(_PREFIXES)) % len(_SUFFIXES)]
    return f"{prefix} {suffix}"


def demo_customers(count: int, seed: int = 20261127) -> list[Customer]:
    rng = random.Random(seed)  # the same demo data every time
    customers = []
    for index in range(count):
        segment = rng.choices(list(Segment), weights=(2, 3, 5))[0]
        stage = rng.choices(list(LifecycleStage), weights=(2, 4, 2, 2, 1, 0.5))[0]
        base = {LifecycleStage.AT_RISK: 30, LifecycleStage.CHURNED: 15, LifecycleStage.EXPANSION: 82}.get(
            stage, 65
        )
        score = max(0, min(100, int(rng.gauss(base, 14))))
        low, high = _ARR_RANGES[segment]
        customers.append(
            Customer(
                customer_id=f"cust_demo{index + 1:05d}",
                name=demo_name(index),
                segment=segment,
                arr=Decimal(rng.randrange(low, high, 500)),
                success_manager=rng.choice(_MANAGERS),
                health_score=score,
                health_trend=rng.choice(list(HealthTrend)),
                risk_level=risk_level_for_score(score),
                lifecycle_stage=stage,
                adoption_rate=round(min(1.0, max(0.0, score / 100 + rng.uniform(-0.2, 0.1))), 2),
                engagement_score=round(min(10.0, max(0.0, score / 10 + rng.uniform(-1.5, 1.0))), 1),
                nps_score=max(-100, min(100, int((score - 50) * 1.6 + rng.uniform(-15, 15)))),
                marketing_status=rng.choice(list(MarketingStatus)),
                sales_status=rng.choice(list(SalesStatus)),
                product_status=rng.choices(list(ProductStatus), weights=(8, 2, 1))[0],
                finance_status=FinanceStatus.OVERDUE
                if score < 30 and rng.random() < 0.5
                else FinanceStatus.CURRENT,
                operations_status=OperationsStatus.ESCALATED if score < 25 else OperationsStatus.SUPPORTED,
            )
        )
    return customers


def demo_signals(customers: list[Customer], seed: int = 20261128) -> list[CustomerSignal]:
    """Logins and support tickets in line with each customer's health; each customer's score and risk
    level are then set to what its scorecard computes from all its signals and metrics."""
    rng = random.Random(seed)
    specs = scorecard_specs()
    signals = []
    for customer in customers:
        base = customer.health_score
        values = {
            "login_frequency": float(max(0, round(base / 100 * 25 + rng.uniform(-4, 4)))),
            "support_tickets": float(max(0, round(rng.gauss((100 - base) / 20, 1)))),
        }
        signals += [
            CustomerSignal(customer=customer, name=name, value=value) for name, value in values.items()
        ]
        scorecard = scorecard_for(customer, specs)
        measures = {
            "adoption_rate": customer.adoption_rate,
            "engagement": customer.engagement_score,
            "nps": customer.nps_score,
            "payment_status": PAYMENT_STATUS_VALUES.get(customer.finance_status),
            **values,
        }
        computed = compute_health(scorecard, measures)
        customer.health_score, customer.risk_level = computed.score, computed.risk_level
    return signals


class Command(BaseCommand):
    help = "Load demo customers, a demo OAuth client with every scope and a demo admin (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=300)
        parser.add_argument("--json", action="store_true", help="Print the demo credentials as JSON only")

    @transaction.atomic
    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("Demo data has published secrets; seed_demo refuses to run in production.")
        existing = set(
            Customer.objects.filter(customer_id__startswith="cust_demo").values_list("pk", flat=True)
        )
        new = [c for c in demo_customers(options["customers"]) if c.customer_id not in existing]
        signals = demo_signals(new)
        Customer.objects.bulk_create(new, batch_size=500)
        CustomerSignal.objects.bulk_create(signals, batch_size=1000)
        # Record each demo customer's first score with its breakdown (the scores already match, so
        # nothing is published).
        health_recompute_customers(customers=new)

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
        totp_device = TOTPDevice.objects.filter(user=admin_user, confirmed=True).first()

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
        self.stdout.write(f"Demo data: {len(new)} customers added ({len(existing) + len(new)} in all).")
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
