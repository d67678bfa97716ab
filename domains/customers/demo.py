"""Demo customers for ``seed_demo``: across segments, stages and risk levels, with signals and scores
computed by their scorecards. Idempotent: customers ``cust_demo00001…`` are created once."""

import random
from decimal import Decimal

from .health import health_recompute_customers
from .models import (
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
from .scoring import compute_health, risk_level_for_score
from .selectors import scorecard_for, scorecard_specs

DEMO_PREFIX = "cust_demo"

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
                customer_id=f"{DEMO_PREFIX}{index + 1:05d}",
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


def seed_demo_customers(*, customers: int = 300, **options) -> str:
    existing = set(Customer.objects.filter(customer_id__startswith=DEMO_PREFIX).values_list("pk", flat=True))
    new = [c for c in demo_customers(customers) if c.customer_id not in existing]
    signals = demo_signals(new)
    Customer.objects.bulk_create(new, batch_size=500)
    CustomerSignal.objects.bulk_create(signals, batch_size=1000)
    # Record each demo customer's first score with its breakdown (the scores already match, so
    # nothing is published).
    health_recompute_customers(customers=new)
    return f"{len(new)} customers added ({len(existing) + len(new)} in all)"
