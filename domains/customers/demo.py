"""Demo customers for ``seed_demo``: across segments, stages and risk levels, with signals and scores
computed by their scorecards. Idempotent: customers ``cust_demo00001…`` are created once."""

import random
from datetime import timedelta
from decimal import Decimal

from django.db.models import Exists, OuterRef
from django.utils import timezone

from csintegration.events import EventMessage
from csintegration.events.services import event_record_past_many

from .events import CHURN_RISK_DETECTED
from .health import health_recompute_customers
from .health import policy as health_policy
from .models import (
    PAYMENT_STATUS_VALUES,
    Customer,
    CustomerSignal,
    FinanceStatus,
    HealthSnapshot,
    HealthSource,
    HealthTrend,
    LifecycleStage,
    MarketingStatus,
    OperationsStatus,
    ProductStatus,
    RiskLevel,
    SalesStatus,
    Segment,
)
from .scoring import (
    breakdown_changes,
    change_triggers,
    churn_actions,
    compute_health,
    falling_measures,
    health_trend,
    measure_indicator,
    risk_level_for_score,
)
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
    now = timezone.now()
    # Record each new demo customer's current score with its breakdown (the scores already match, so
    # nothing is published); before the history is there, so the engine raises no alert today for a
    # decline the history describes.
    health_recompute_customers(customers=new)
    # 90 days of scores before today's, for the new customers and any older demo customer without them
    # (a database seeded before the history existed): running this twice adds nothing.
    backfill = customers_without_history(before=now - timedelta(days=2))
    history, alerts = seed_demo_health_history(backfill, until=now) if backfill else (0, 0)
    return (
        f"{len(new)} customers added ({len(existing) + len(new)} in all); {history} past scores "
        f"and {alerts} churn alerts over {HISTORY_DAYS} days for {len(backfill)} customers"
    )


# --- 90 days of health history ------------------------------------------------------------------------

HISTORY_DAYS = 90
#: share of days on which a demo customer sends signals (a score is kept for each of them)
HISTORY_SIGNAL_DAYS = 0.7
#: measures where a lower value is better move the other way when a customer declines
_BOUNDS = {
    "adoption_rate": (0.0, 1.0),
    "engagement": (0.0, 10.0),
    "nps": (-100.0, 100.0),
    "login_frequency": (0.0, 60.0),
    "support_tickets": (0.0, 30.0),
}


def _current_measures(customer: Customer, signals: dict[str, float]) -> dict[str, float | None]:
    return {
        "adoption_rate": customer.adoption_rate,
        "engagement": customer.engagement_score,
        "nps": customer.nps_score,
        "payment_status": PAYMENT_STATUS_VALUES.get(customer.finance_status),
        **signals,
    }


def _past_measures(
    current: dict[str, float | None], directions: dict[str, str], rng: random.Random, change: float
) -> dict[str, float | None]:
    """Where the customer stood 90 days ago: ``change`` > 0 means it was healthier then (it declined)."""
    past = dict(current)
    for name, (low, high) in _BOUNDS.items():
        value = current.get(name)
        if value is None:
            continue
        span = high - low
        sign = -1.0 if directions.get(name) == "lower_is_better" else 1.0
        moved = value + sign * change * span * rng.uniform(0.15, 0.45)
        past[name] = min(high, max(low, moved))
    return past


def demo_health_history(
    customers: list[Customer], *, until, seed: int = 20261201
) -> tuple[list[HealthSnapshot], list[tuple[HealthSnapshot, dict]]]:
    """Scores of the ``HISTORY_DAYS`` days before ``until`` for each customer, computed by its scorecard
    from measures that drift from where it stood then to where it stands now (at-risk customers were
    healthier; others wander), and the churn alerts of the days its risk turned high.

    Returns the snapshots (unsaved, oldest first per customer) and (snapshot, alert payload) pairs."""
    rng = random.Random(seed)
    specs = scorecard_specs()
    signals: dict[str, dict[str, float]] = {}
    for customer_id, name, value in CustomerSignal.objects.filter(customer__in=customers).values_list(
        "customer_id", "name", "value"
    ):
        signals.setdefault(customer_id, {})[name] = value
    trend_policy = health_policy()
    snapshots, alerts = [], []
    for customer in customers:
        scorecard = scorecard_for(customer, specs)
        directions = {spec.measure: spec.direction for spec in scorecard.measures}
        current = _current_measures(customer, signals.get(customer.customer_id, {}))
        at_risk = customer.risk_level in (RiskLevel.HIGH, RiskLevel.CRITICAL)
        change = rng.uniform(0.5, 1.0) if at_risk else rng.uniform(-0.6, 0.6)
        past = _past_measures(current, directions, rng, change)
        previous, points = None, []
        for day in range(HISTORY_DAYS, 0, -1):
            if rng.random() > HISTORY_SIGNAL_DAYS:
                continue
            progress = 1 - day / HISTORY_DAYS  # 0 then, 1 now
            values = {
                name: None
                if value is None
                else value + (current[name] - value) * progress + rng.gauss(0, 0.02) * value
                for name, value in past.items()
            }
            for name, (low, high) in _BOUNDS.items():
                if values.get(name) is not None:
                    values[name] = round(min(high, max(low, values[name])), 4)
            computed = compute_health(scorecard, values)
            if computed is None:
                continue
            moment = until - timedelta(days=day, hours=rng.uniform(0, 12))
            points.append((moment, computed.score))
            changes = breakdown_changes(previous.breakdown if previous else None, computed.breakdown)
            snapshot = HealthSnapshot(
                customer=customer,
                score=computed.score,
                previous_score=previous.score if previous else None,
                health_trend=health_trend(
                    points,
                    now=moment,
                    window_days=trend_policy.trend_window_days,
                    threshold_points=trend_policy.trend_threshold_points,
                ),
                risk_level=computed.risk_level,
                source=HealthSource.SIGNALS,
                scorecard_id=scorecard.scorecard_id,
                scorecard_name=scorecard.name,
                breakdown=list(computed.breakdown),
                changes=changes,
                change_reason="signals_updated",
                trigger_events=change_triggers(changes, directions),
                observed_at=moment,
            )
            turned = previous is not None and previous.risk_level in (RiskLevel.LOW, RiskLevel.MEDIUM)
            if turned and computed.risk_level in (RiskLevel.HIGH, RiskLevel.CRITICAL):
                falling = falling_measures(previous.breakdown, computed.breakdown)
                alerts.append(
                    (
                        snapshot,
                        {
                            "risk_level": computed.risk_level,
                            "risk_indicators": [measure_indicator(m, directions.get(m, "")) for m in falling]
                            or ["health_score_drop"],
                            "recommended_actions": churn_actions(computed.risk_level, falling),
                        },
                    )
                )
            snapshots.append(snapshot)
            previous = snapshot
    return snapshots, alerts


def seed_demo_health_history(customers: list[Customer], *, until) -> tuple[int, int]:
    """Record the history and its churn alerts in the event log, as past events (the finance app reads
    its churn-risk episodes from them; no subscriber acts now on an alert of weeks ago); returns
    (snapshots, alerts)."""
    snapshots, alerts = demo_health_history(customers, until=until)
    published = event_record_past_many(
        EventMessage(CHURN_RISK_DETECTED.name, snapshot.customer.customer_id, payload, snapshot.observed_at)
        for snapshot, payload in alerts
    )
    for (snapshot, _), event in zip(alerts, published, strict=True):
        snapshot.churn_event_id = event.event_id
    HealthSnapshot.objects.bulk_create(snapshots, batch_size=1000)
    return len(snapshots), len(alerts)


def customers_without_history(*, before) -> list[Customer]:
    """Demo customers with no score older than ``before``."""
    with_history = HealthSnapshot.objects.filter(customer=OuterRef("pk"), observed_at__lt=before)
    return list(
        Customer.objects.filter(customer_id__startswith=DEMO_PREFIX)
        .exclude(Exists(with_history))
        .order_by("customer_id")
    )
