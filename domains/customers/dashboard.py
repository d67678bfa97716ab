"""The customers' part of the admin dashboard: who is at risk and why, how much ARR that is, the
health distribution and the lifecycle stages; each figure links to the customer list behind it.
Every figure is one aggregate query (the at-risk table two), whatever the number of customers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from csintegration.adminsite.charts import Bar, bar_chart, histogram
from csintegration.adminsite.customer_sets import PARAMETER as CUSTOMER_SET
from csintegration.adminsite.dashboard import Chart, Figure, Section, Table, changelist_url

from . import scoring
from .models import Customer, HealthSnapshot, LifecycleStage, RiskLevel

CUSTOMERS = "customers.customer"
AT_RISK_LEVELS = (RiskLevel.HIGH, RiskLevel.CRITICAL)
RISK_ORDER = (RiskLevel.CRITICAL, RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW)
RISK_TONES = {
    RiskLevel.CRITICAL: "critical",
    RiskLevel.HIGH: "danger",
    RiskLevel.MEDIUM: "warning",
    RiskLevel.LOW: "success",
}
NEWLY_AT_RISK_DAYS = 7
AT_RISK_TABLE_ROWS = 10
#: the health histogram's bins: 0-9, 10-19, …, 90-100
HEALTH_BINS = tuple((low, low + 9 if low < 90 else 100) for low in range(0, 100, 10))


def risk_rank() -> Case:
    """0 for critical … 3 for low: the customer list's default order (critical first)."""
    return Case(
        *(When(risk_level=level, then=Value(rank)) for rank, level in enumerate(RISK_ORDER)),
        default=Value(len(RISK_ORDER)),
        output_field=IntegerField(),
    )


def newly_at_risk(*, now=None) -> QuerySet[Customer]:
    """Customers at high or critical risk now whose last score before the week was low or medium (or
    who had none and were created this week): they turned at-risk within the last 7 days."""
    week_start = (now or timezone.now()) - timedelta(days=NEWLY_AT_RISK_DAYS)
    risk_before = (
        HealthSnapshot.objects.filter(customer=OuterRef("pk"), applied=True, observed_at__lt=week_start)
        .order_by("-observed_at", "-id")
        .values("risk_level")[:1]
    )
    return (
        Customer.objects.filter(risk_level__in=AT_RISK_LEVELS)
        .annotate(risk_before=Subquery(risk_before))
        .filter(
            Q(risk_before__in=(RiskLevel.LOW, RiskLevel.MEDIUM))
            | Q(risk_before__isnull=True, created_at__gte=week_start)
        )
    )


def newly_at_risk_ids():
    return newly_at_risk().values_list("pk", flat=True)


def _money(value: Decimal | None) -> str:
    return f"${(value or Decimal(0)):,.0f}"


def why_at_risk(latest: HealthSnapshot | None, previous: HealthSnapshot | None) -> str:
    """The measures that cost points since the previous score, else the weakest ones now."""
    if latest is None:
        return "no score recorded yet"
    changes = scoring.breakdown_changes(previous.breakdown if previous else None, latest.breakdown or ())
    falling = sorted(
        (change for change in changes if (change.get("contribution_delta") or 0) < 0),
        key=lambda change: change["contribution_delta"],
    )[:3]
    if falling:
        text = "fell: " + ", ".join(f"{c['measure']} ({c['contribution_delta']:+.1f} pts)" for c in falling)
    else:
        weakest = scoring.weakest_measures(latest.breakdown or ())
        text = "weakest: " + ", ".join(weakest) if weakest else latest.change_reason or "-"
    if latest.recommended_actions:
        text += " · next: " + ", ".join(latest.recommended_actions[:2])
    return text


def risk_section(request) -> Section:
    by_risk = {
        row["risk_level"]: row
        for row in Customer.objects.order_by()
        .values("risk_level")
        .annotate(customers=Count("pk"), arr=Sum("arr"))
    }
    figures = [
        Figure(
            label=f"{RiskLevel(level).label} risk",
            value=str(by_risk.get(level, {}).get("customers", 0)),
            link=changelist_url(CUSTOMERS, risk_level__exact=level),
            count=by_risk.get(level, {}).get("customers", 0),
            tone=RISK_TONES[level],
        )
        for level in RISK_ORDER
    ]
    at_risk_count = sum(by_risk.get(level, {}).get("customers", 0) for level in AT_RISK_LEVELS)
    at_risk_arr = sum(
        (by_risk.get(level, {}).get("arr") or Decimal(0) for level in AT_RISK_LEVELS), Decimal(0)
    )
    figures.append(
        Figure(
            label="ARR at risk (high + critical)",
            value=_money(at_risk_arr),
            link=changelist_url(CUSTOMERS, risk_level__in=AT_RISK_LEVELS),
            count=at_risk_count,
            tone="danger",
            note=f"{at_risk_count} customers",
        )
    )
    newly = newly_at_risk().count()
    figures.append(
        Figure(
            label=f"Newly at risk, last {NEWLY_AT_RISK_DAYS} days",
            value=str(newly),
            link=changelist_url(CUSTOMERS, **{CUSTOMER_SET: "newly_at_risk"}),
            count=newly,
            tone="warning",
        )
    )
    return Section(figures=figures, table=_at_risk_table(), wide=True)


def _at_risk_table() -> Table:
    customers = list(
        Customer.objects.filter(risk_level__in=AT_RISK_LEVELS)
        .annotate(risk_rank=risk_rank())
        .order_by("risk_rank", "-arr", "pk")[:AT_RISK_TABLE_ROWS]
    )
    # The two latest scores of each: a window function keeps it one query of at most 2 rows a customer.
    ranked = (
        HealthSnapshot.objects.filter(customer_id__in=[customer.pk for customer in customers], applied=True)
        .annotate(
            rank=Window(
                RowNumber(), partition_by=F("customer_id"), order_by=(F("observed_at").desc(), F("id").desc())
            )
        )
        .filter(rank__lte=2)
        .order_by("customer_id", "rank")
    )
    latest: dict[str, list[HealthSnapshot]] = {}
    for snapshot in ranked:
        latest.setdefault(snapshot.customer_id, []).append(snapshot)
    rows = [
        (
            format_html(
                '<a href="{}">{}</a>', reverse("admin:customers_customer_change", args=[c.pk]), c.name
            ),
            format_html('<span class="bo-badge risk-{}">{}</span>', c.risk_level, c.get_risk_level_display()),
            c.health_score,
            c.get_health_trend_display(),
            _money(c.arr),
            c.get_lifecycle_stage_display(),
            c.success_manager or "-",
            why_at_risk(*[*latest.get(c.pk, []), None, None][:2]),
        )
        for c in customers
    ]
    return Table(
        headers=("customer", "risk", "score", "trend", "ARR", "stage", "success manager", "why"),
        rows=rows,
        empty="No customer is at high or critical risk.",
    )


def health_section(request) -> Section:
    bins = Customer.objects.aggregate(
        **{
            f"bin_{low}": Count("pk", filter=Q(health_score__gte=low, health_score__lte=high))
            for low, high in HEALTH_BINS
        }
    )
    distribution = histogram(
        [
            Bar(
                label=f"{low}-{high}",
                value=bins[f"bin_{low}"],
                link=changelist_url(CUSTOMERS, health_score__gte=low, health_score__lte=high),
                tone="danger" if high < 40 else "warning" if high < 70 else "success",
            )
            for low, high in HEALTH_BINS
        ],
        title="Customers per health score band",
    )
    by_stage = dict(
        Customer.objects.order_by()
        .values("lifecycle_stage")
        .annotate(n=Count("pk"))
        .values_list("lifecycle_stage", "n")
    )
    stages = [
        Figure(
            label=stage.label,
            value=str(by_stage.get(stage, 0)),
            link=changelist_url(CUSTOMERS, lifecycle_stage__exact=stage),
            count=by_stage.get(stage, 0),
            tone="danger" if stage in (LifecycleStage.AT_RISK, LifecycleStage.CHURNED) else "primary",
        )
        for stage in LifecycleStage
    ]
    stage_chart = bar_chart(
        [
            Bar(label=figure.label, value=figure.count, link=figure.link, tone=figure.tone)
            for figure in stages
        ],
        title="Customers per lifecycle stage",
    )
    return Section(
        figures=stages,
        charts=[
            Chart("Health distribution", distribution, note="customers per score band"),
            Chart("Lifecycle stages", stage_chart),
        ],
    )
