"""Demo data of the marketing domain for ``seed_demo``: 90 days of journeys for the demo customers, and
campaigns over the same months (finished ones with their measured impact, open ones taking trigger
enrolments). Rows are written directly, as the customers' demo data is, without events; every figure
shown is then computed from them as for real data. Idempotent."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from domains.customers.models import Customer, LifecycleStage

from . import impact, selectors, triggers
from .conf import conf
from .models import (
    Campaign,
    CampaignMember,
    CampaignStatus,
    Journey,
    JourneyEntry,
    MemberGroup,
    MemberSource,
    Segment,
)
from .segment_filters import union_condition

DEMO_PREFIX = "cust_demo"
DEMO_CREATOR = "demo"
S = LifecycleStage

#: how each final stage is usually reached (every step is a move the journey allows)
PATHS: dict[str, list[list[str]]] = {
    S.ONBOARDING: [[S.ONBOARDING]],
    S.ADOPTION: [[S.ONBOARDING, S.ADOPTION], [S.ONBOARDING, S.AT_RISK, S.ADOPTION]],
    S.EXPANSION: [
        [S.ONBOARDING, S.ADOPTION, S.EXPANSION],
        [S.ONBOARDING, S.ADOPTION, S.RENEWAL, S.EXPANSION],
    ],
    S.RENEWAL: [[S.ONBOARDING, S.ADOPTION, S.RENEWAL], [S.ONBOARDING, S.ADOPTION, S.EXPANSION, S.RENEWAL]],
    S.AT_RISK: [[S.ONBOARDING, S.ADOPTION, S.AT_RISK], [S.ONBOARDING, S.AT_RISK]],
    S.CHURNED: [[S.ONBOARDING, S.ADOPTION, S.AT_RISK, S.CHURNED], [S.ONBOARDING, S.AT_RISK, S.CHURNED]],
}
REASONS = {
    S.ADOPTION: ["kick-off completed", "first workflows live", "success criteria agreed"],
    S.EXPANSION: ["usage above the licensed seats", "new team asked for access", "executive sponsor keen"],
    S.RENEWAL: ["renewal in 90 days", "contract renewal window opened"],
    S.AT_RISK: ["champion left", "usage fell for three weeks", "support escalation open"],
    S.CHURNED: ["did not renew", "moved to a competitor"],
    S.ONBOARDING: ["signed", "re-onboarding after reorganisation"],
}
MOVERS = ["client:demo-integration-client", "staff:admin", "client:crm-sync"]

# (days ago created, type, trigger, segments, holdout share, days it ran or None while open, final status)
CAMPAIGNS = [
    (88, "retention", "health_decline", ["at_risk"], 0.2, 30, CampaignStatus.COMPLETED),
    (80, "onboarding_nurture", "onboarding_stalled", ["low_engagement"], 0.2, 25, CampaignStatus.COMPLETED),
    (70, "retention", "churn_risk", ["at_risk", "low_engagement"], 0.2, 28, CampaignStatus.COMPLETED),
    (62, "advocacy", "nps_promoter", ["low_engagement"], 0.0, None, CampaignStatus.CANCELLED),
    (55, "retention", "low_engagement", ["low_engagement"], 0.25, 30, CampaignStatus.COMPLETED),
    (45, "expansion", "expansion_readiness", ["at_risk"], 0.2, 30, CampaignStatus.COMPLETED),
    (20, "adoption", "low_adoption", ["low_engagement"], 0.1, None, CampaignStatus.ACTIVE),
    (12, "retention", "health_decline", ["at_risk", "low_engagement"], 0.15, None, CampaignStatus.ACTIVE),
    (6, "expansion", "expansion_readiness", ["at_risk"], 0.0, None, CampaignStatus.ACTIVE),
]
#: mean improvement since enrolment of the treated and of the held out, per campaign type
#: (health points, engagement points): the demo's "truth", which the measured impact then recovers
EFFECTS = {"treatment": (7.0, 0.9), "holdout": (1.0, 0.1), "comparison": (0.5, 0.0)}


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _journeys(customers: list[Customer], rng: random.Random, now: datetime) -> tuple[list, list]:
    journeys, entries = [], []
    for customer in customers:
        path = rng.choice(PATHS[customer.lifecycle_stage])
        start = now - timedelta(days=rng.uniform(60, 150))
        last = now - timedelta(days=rng.uniform(1, 40))
        between = sorted(start + (last - start) * rng.random() for _ in range(len(path) - 2))
        moments = [start, *between, last][: len(path)] if len(path) > 1 else [start]
        for index, stage in enumerate(path):
            previous = path[index - 1] if index else ""
            entries.append(
                JourneyEntry(
                    customer=customer,
                    stage=stage,
                    from_stage=previous,
                    entered_at=moments[index],
                    left_at=moments[index + 1] if index + 1 < len(path) else None,
                    reason="" if not index else rng.choice(REASONS[stage]),
                    changed_by="sales_handoff" if not index else rng.choice(MOVERS),
                )
            )
        journeys.append(Journey(customer=customer, stage=path[-1], entered_at=moments[-1]))
    return journeys, entries


def _baseline(customer: Customer, group: str, rng: random.Random, ran_days: float) -> dict:
    """What the customer looked like when it joined: its values now, less the change of its group."""
    health_gain, engagement_gain = EFFECTS[group]
    scale = min(ran_days / 30, 1.0)
    health = _clamp(round(customer.health_score - rng.gauss(health_gain * scale, 6)), 0, 100)
    engagement = customer.engagement_score
    if engagement is not None:
        engagement = round(_clamp(engagement - rng.gauss(engagement_gain * scale, 0.8), 0, 10), 1)
    stage = customer.lifecycle_stage
    if stage == S.CHURNED and rng.random() < 0.7:
        stage = S.AT_RISK  # churned during the campaign
    return {
        "baseline_health_score": int(health),
        "baseline_engagement_score": engagement,
        "baseline_adoption_rate": customer.adoption_rate,
        "baseline_lifecycle_stage": stage,
    }


def _campaign(spec, demo_customers, segments, rng: random.Random, now: datetime) -> Campaign:
    days_ago, campaign_type, trigger_type, keys, share, ran, final = spec
    created = now - timedelta(days=days_ago, hours=rng.uniform(0, 8))
    filters = {key: segments[key].filters for key in keys}
    audience = list(demo_customers.filter(union_condition(filters)).order_by("customer_id"))
    estimate = impact.estimate(
        campaign_type=campaign_type,
        history=selectors.estimate_history(campaign_type=campaign_type),
        min_history=conf.MARKETING_ESTIMATE_MIN_HISTORY,
    )
    label = f"{campaign_type.replace('_', ' ').capitalize()}: {trigger_type.replace('_', ' ')}"
    campaign = Campaign.objects.create(
        name=f"{label} ({created:%b %d})",
        campaign_type=campaign_type,
        trigger_type=trigger_type,
        segment_keys=keys,
        segment_filters=filters,
        holdout_share=share,
        estimated_impact=estimate.as_dict(),
        created_by=DEMO_CREATOR,
        created_at=created,
    )
    held = set(rng.sample([c.pk for c in audience], round(share * len(audience))))
    elapsed = (now - created).days if ran is None else ran
    members = []
    for customer in audience:
        group = MemberGroup.HOLDOUT if customer.pk in held else MemberGroup.TREATMENT
        members.append(
            CampaignMember(
                campaign=campaign,
                customer=customer,
                group=group,
                source=MemberSource.AUDIENCE,
                enrolled_at=created,
                **_baseline(customer, group, rng, elapsed),
            )
        )
    CampaignMember.objects.bulk_create(members, batch_size=1000)
    campaign.audience_size, campaign.holdout_count = len(audience), len(held)
    campaign.members_count = len(audience) - len(held)
    if final == CampaignStatus.COMPLETED:
        campaign.status, campaign.completed_at = final, created + timedelta(days=ran)
        campaign.measured_impact = selectors.campaign_live_impact(
            campaign=campaign, now=campaign.completed_at
        ).as_dict()
    elif final == CampaignStatus.CANCELLED:
        campaign.status, campaign.completed_at = final, created + timedelta(days=9)
    else:
        campaign.ends_at = created + timedelta(days=45)
    campaign.save()
    return campaign


def _trigger_enrolments(
    open_campaigns: list[Campaign], demo_customers, rng: random.Random, now: datetime
) -> int:
    """Customers whose automatic rules fire now join the open campaign of that type, as the trigger
    subscriber would have enrolled them over the last days (with the reason the rule gives)."""
    by_type = {campaign.campaign_type: campaign for campaign in open_campaigns}
    rules = [rule for rule in selectors.active_rules(automatic_only=True) if rule.campaign_type in by_type]
    taken = set(
        CampaignMember.objects.filter(campaign__in=open_campaigns).values_list("campaign_id", "customer_id")
    )
    joined = []
    for customer in demo_customers.exclude(lifecycle_stage=S.CHURNED).order_by("customer_id"):
        for firing in triggers.firings(rules, selectors.customer_facts(customer=customer, now=now)):
            campaign = by_type[firing.rule.campaign_type]
            if (campaign.pk, customer.pk) in taken:
                continue
            taken.add((campaign.pk, customer.pk))
            joined.append(
                CampaignMember(
                    campaign=campaign,
                    customer=customer,
                    group=MemberGroup.TREATMENT,
                    source=MemberSource.TRIGGER,
                    enrolled_at=max(campaign.created_at, now - timedelta(days=rng.uniform(0.1, 5))),
                    trigger_type=firing.rule.trigger_type,
                    reason=firing.reason,
                    **_baseline(customer, MemberGroup.TREATMENT, rng, 3),
                )
            )
    CampaignMember.objects.bulk_create(joined, batch_size=1000)
    for campaign in open_campaigns:
        campaign.members_count = CampaignMember.objects.filter(
            campaign=campaign, group=MemberGroup.TREATMENT
        ).count()
        campaign.save(update_fields=["members_count", "updated_at"])
    return len(joined)


@transaction.atomic
def seed_demo_marketing(**options) -> str:
    now = timezone.now()
    rng = random.Random(20261130)  # the same demo data every time
    demo_customers = Customer.objects.filter(customer_id__startswith=DEMO_PREFIX)
    without_journey = list(demo_customers.exclude(marketing_journey__isnull=False).order_by("customer_id"))
    journeys, entries = _journeys(without_journey, rng, now)
    Journey.objects.bulk_create(journeys, batch_size=1000)
    JourneyEntry.objects.bulk_create(entries, batch_size=1000)

    campaigns_added = enrolled = 0
    if not Campaign.objects.filter(created_by=DEMO_CREATOR).exists() and demo_customers.exists():
        segments = {segment.key: segment for segment in Segment.objects.all()}
        created = [_campaign(spec, demo_customers, segments, rng, now) for spec in CAMPAIGNS]
        campaigns_added = len(created)
        enrolled = _trigger_enrolments(
            [campaign for campaign in created if campaign.status == CampaignStatus.ACTIVE],
            demo_customers,
            rng,
            now,
        )
    return (
        f"{len(journeys)} journeys ({len(entries)} stays) added; {campaigns_added} campaigns added "
        f"({enrolled} trigger enrolments)"
    )
