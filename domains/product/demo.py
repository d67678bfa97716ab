"""Demo data of the product domain for ``seed_demo``: 20 features, 90 days of daily usage by the demo
customers (in line with their health and segment, one feature fading, one used regardless of health),
the adoption computed from it as a bulk import would be, 90 days of adoption history, and feedback moved
through its workflow. Idempotent: each part is created once."""

from __future__ import annotations

import random
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from domains.customers.models import Customer, LifecycleStage

from . import aggregates, services
from .models import AdoptionSnapshot, Feature, FeatureUsage, Feedback, FeedbackStatus

DEMO_CUSTOMER_PREFIX = "cust_demo"
HISTORY_DAYS = 90

#: feature id, name, threshold, window, how widely it is used (0..1), active
FEATURES = (
    ("feat_analytics", "Analytics dashboards", 5, 30, 0.75, True),
    ("feat_health_alerts", "Health score alerts", 3, 30, 0.65, True),
    ("feat_workflow_automation", "Workflow automation", 4, 30, 0.45, True),
    ("feat_playbooks", "Success playbooks", 2, 30, 0.5, True),
    ("feat_scheduled_reports", "Scheduled reports", 2, 30, 0.55, True),
    ("feat_crm_sync", "CRM sync", 10, 30, 0.6, True),
    ("feat_api_access", "API access", 20, 30, 0.35, True),
    ("feat_sso", "Single sign-on", 1, 30, 0.4, True),
    ("feat_mobile_app", "Mobile app", 3, 30, 0.55, True),
    ("feat_nps_surveys", "NPS surveys", 1, 60, 0.5, True),
    ("feat_segmentation", "Customer segmentation", 2, 30, 0.45, True),
    ("feat_email_campaigns", "Email campaigns", 2, 30, 0.4, True),
    ("feat_renewal_forecasting", "Renewal forecasting", 2, 30, 0.3, True),
    ("feat_custom_fields", "Custom fields", 1, 60, 0.6, True),
    ("feat_data_export", "Data export", 1, 30, 0.5, True),
    ("feat_in_app_guides", "In-app guides", 3, 30, 0.35, True),
    ("feat_journey_builder", "Journey builder", 3, 30, 0.3, True),
    ("feat_team_workspaces", "Team workspaces", 5, 30, 0.5, True),
    ("feat_audit_trail", "Audit trail", 1, 90, 0.3, True),
    ("feat_ai_insights", "AI insights (beta)", 3, 14, 0.2, False),
)
#: used more by larger accounts
SEGMENT_FACTOR = {"enterprise": 1.2, "mid_market": 1.0, "small_business": 0.7}
#: usage fading over the 90 days (recent use a fraction of earlier use)
FADING = {"feat_mobile_app"}
#: used regardless of health
UNRELATED_TO_HEALTH = {"feat_data_export"}

FEEDBACK_COUNT = 140
CATEGORIES = (
    "workflow_automation",
    "reporting",
    "integrations",
    "permissions",
    "mobile",
    "health_scoring",
    "notifications",
    "data_quality",
    "performance",
)
DESCRIPTIONS = (
    "Need automated health score triggers",
    "Export the adoption report to our BI tool every night",
    "Let CSMs edit playbooks without an admin",
    "Sync renewal dates both ways with the CRM",
    "Filter the dashboard by region and segment",
    "Push alerts to our chat tool when risk turns high",
    "The mobile app loses filters after a restart",
    "Per-team permissions for workspaces",
    "Bulk edit of custom fields",
    "Faster loading of the customer list with many accounts",
)
#: where the demo feedback stands, and how it got there (with committed releases)
JOURNEYS = (
    ((), 0.25),
    ((FeedbackStatus.UNDER_REVIEW,), 0.2),
    ((FeedbackStatus.PLANNED,), 0.15),
    ((FeedbackStatus.UNDER_REVIEW, FeedbackStatus.PLANNED, FeedbackStatus.IN_PROGRESS), 0.15),
    ((FeedbackStatus.PLANNED, FeedbackStatus.IN_PROGRESS, FeedbackStatus.DELIVERED), 0.15),
    ((FeedbackStatus.UNDER_REVIEW, FeedbackStatus.DECLINED), 0.1),
)
RELEASES = ("2026.01", "2026.02", "2026.03", "2026.04")


def _features() -> list[Feature]:
    features = []
    for feature_id, name, threshold, window, _, active in FEATURES:
        feature, _ = Feature.objects.get_or_create(
            feature_id=feature_id,
            defaults={
                "name": name,
                "adoption_threshold": threshold,
                "window_days": window,
                "is_active": active,
                "summary_threshold": threshold,
            },
        )
        features.append(feature)
    return features


def demo_usage(customers: list[Customer], today: date, seed: int = 20261201) -> list[FeatureUsage]:
    """Daily usage over the last HISTORY_DAYS days: healthier and larger customers use more features
    more often; churned customers stopped some weeks ago."""
    rng = random.Random(seed)
    rows = []
    for customer in customers:
        health = customer.health_score / 100
        stopped = rng.randint(25, 70) if customer.lifecycle_stage == LifecycleStage.CHURNED else None
        for feature_id, _, threshold, _, reach, _ in FEATURES:
            affinity = 0.5 if feature_id in UNRELATED_TO_HEALTH else 0.25 + 0.95 * health
            if rng.random() > min(0.97, reach * affinity * SEGMENT_FACTOR[customer.segment] * 1.3):
                continue
            intensity = rng.uniform(0.1, 0.45) * (0.6 + health)
            per_day = max(1.0, threshold / 6)
            for back in range(HISTORY_DAYS):
                if stopped is not None and back < stopped:
                    continue
                chance = intensity * ((0.3 + 0.7 * back / HISTORY_DAYS) if feature_id in FADING else 1.0)
                if rng.random() < min(chance, 0.9):
                    count = max(1, int(rng.expovariate(1 / per_day)))
                    rows.append(
                        FeatureUsage(
                            customer_id=customer.customer_id,
                            feature_id=feature_id,
                            date=today - timedelta(days=back),
                            count=count,
                        )
                    )
    return rows


def _adoption_from_usage(features: list[Feature], customers: list[Customer], today: date) -> None:
    for feature in features:
        aggregates.feature_adoption_recompute(feature_id=feature.feature_id, today=today)
    aggregates.aggregates_rebuild(today=today)
    services.adoption_rates_refresh(customer_ids=[customer.customer_id for customer in customers])
    aggregates.aggregates_rebuild(today=today)


def _history_days(today: date) -> list[date]:
    """Daily for the last two weeks, weekly before (the nightly job adds a day at a time from then on)."""
    backs = sorted({*range(1, 15), *range(14, HISTORY_DAYS + 1, 7)}, reverse=True)
    return [today - timedelta(days=back) for back in backs]


def _history(features: list[Feature], today: date) -> int:
    written = 0
    for feature in features:
        for day in _history_days(today):
            written += services.adoption_snapshot_from_usage(feature=feature, day=day)
    return written + services.adoption_snapshots_take(today=today)


def _feedback(customers: list[Customer], today: date, seed: int = 20261202) -> int:
    rng = random.Random(seed)
    made = 0
    for index in range(FEEDBACK_COUNT):
        customer = rng.choice(customers)
        with transaction.atomic():
            feedback = services.feedback_submit(
                customer=customer,
                data={
                    "type": rng.choices(
                        ["feature_request", "improvement", "bug_report", "usability", "integration"],
                        weights=(5, 3, 2, 1, 2),
                    )[0],
                    "category": rng.choice(CATEGORIES),
                    "priority": rng.choices(["low", "medium", "high", "critical"], weights=(2, 4, 3, 1))[0],
                    "business_impact": rng.choices(
                        ["nice_to_have", "efficiency_gain", "critical_for_success", "renewal_blocker"],
                        weights=(3, 4, 2, 1),
                    )[0],
                    "description": rng.choice(DESCRIPTIONS),
                    "success_context": {"health_impact": "churn_risk_reduction"} if index % 3 == 0 else {},
                },
                submitted_by="demo-integration-client",
            )
            statuses = rng.choices([path for path, _ in JOURNEYS], weights=[w for _, w in JOURNEYS])[0]
            for status in statuses:
                release = rng.choice(RELEASES) if status == FeedbackStatus.PLANNED else None
                options = {"committed_release": release} if release else {}
                feedback = services.feedback_update(
                    feedback=feedback, actor="staff:ana.costa", status=status, **options
                )
            submitted = timezone.now() - timedelta(
                days=rng.randint(0, HISTORY_DAYS - 1), hours=rng.randint(0, 23)
            )
            Feedback.objects.filter(pk=feedback.pk).update(created_at=submitted)
        made += 1
    return made


def seed_demo_product(**options) -> str:
    today = aggregates.today_utc()
    customers = list(Customer.objects.filter(customer_id__startswith=DEMO_CUSTOMER_PREFIX).order_by("pk"))
    features = _features()
    parts = []
    if (
        customers
        and not FeatureUsage.objects.filter(customer__customer_id__startswith=DEMO_CUSTOMER_PREFIX).exists()
    ):
        rows = demo_usage(customers, today)
        FeatureUsage.objects.bulk_create(rows, batch_size=2000)
        _adoption_from_usage(features, customers, today)
        parts.append(f"{len(rows)} daily usage rows")
    if not AdoptionSnapshot.objects.filter(day__lt=today).exists() and customers:
        parts.append(f"{_history(features, today)} adoption snapshots")
    if (
        customers
        and not Feedback.objects.filter(customer__customer_id__startswith=DEMO_CUSTOMER_PREFIX).exists()
    ):
        parts.append(f"{_feedback(customers, today)} feedback")
    added = ", ".join(parts) or "nothing new"
    return f"{len(features)} features; {added}"
