"""Customers: one record of each customer's success (health, trend, risk, stage, adoption, NPS)."""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from csintegration.ids import new_id


def new_customer_id() -> str:
    return new_id("cust")


class Segment(models.TextChoices):
    ENTERPRISE = "enterprise", "Enterprise"
    MID_MARKET = "mid_market", "Mid-market"
    SMALL_BUSINESS = "small_business", "Small business"


class HealthTrend(models.TextChoices):
    IMPROVING = "improving", "Improving"
    STABLE = "stable", "Stable"
    DECLINING = "declining", "Declining"


class RiskLevel(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class LifecycleStage(models.TextChoices):
    ONBOARDING = "onboarding", "Onboarding"
    ADOPTION = "adoption", "Adoption"
    EXPANSION = "expansion", "Expansion"
    RENEWAL = "renewal", "Renewal"
    AT_RISK = "at_risk", "At risk"
    CHURNED = "churned", "Churned"


class MarketingStatus(models.TextChoices):
    NOT_ENROLLED = "not_enrolled", "Not enrolled"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    OPTED_OUT = "opted_out", "Opted out"


class SalesStatus(models.TextChoices):
    PROSPECT = "prospect", "Prospect"
    IN_HANDOFF = "in_handoff", "In handoff"
    HANDED_OFF = "handed_off", "Handed off"
    EXPANSION_PIPELINE = "expansion_pipeline", "Expansion pipeline"


class ProductStatus(models.TextChoices):
    STANDARD = "standard", "Standard"
    BETA_PARTICIPANT = "beta_participant", "Beta participant"
    ADVISORY_BOARD = "advisory_board", "Advisory board"


class FinanceStatus(models.TextChoices):
    CURRENT = "current", "Current"
    OVERDUE = "overdue", "Overdue"
    DELINQUENT = "delinquent", "Delinquent"


class OperationsStatus(models.TextChoices):
    UNASSIGNED = "unassigned", "Unassigned"
    SUPPORTED = "supported", "Supported"
    ESCALATED = "escalated", "Escalated"


class Customer(models.Model):
    customer_id = models.CharField(primary_key=True, max_length=64, default=new_customer_id, editable=False)
    name = models.CharField(max_length=200)
    segment = models.CharField(max_length=20, choices=Segment.choices, default=Segment.MID_MARKET)
    arr = models.DecimalField(
        "ARR", max_digits=14, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    success_manager = models.EmailField(blank=True)

    health_score = models.PositiveSmallIntegerField(
        default=50, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    health_trend = models.CharField(max_length=10, choices=HealthTrend.choices, default=HealthTrend.STABLE)
    risk_level = models.CharField(max_length=10, choices=RiskLevel.choices, default=RiskLevel.MEDIUM)
    lifecycle_stage = models.CharField(
        max_length=12, choices=LifecycleStage.choices, default=LifecycleStage.ONBOARDING
    )

    adoption_rate = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Share of licensed features in active use, 0 to 1",
    )
    engagement_score = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(10)],
        help_text="Engagement on a 0 to 10 scale",
    )
    nps_score = models.SmallIntegerField(
        "NPS", null=True, blank=True, validators=[MinValueValidator(-100), MaxValueValidator(100)]
    )

    marketing_status = models.CharField(
        max_length=20, choices=MarketingStatus.choices, default=MarketingStatus.NOT_ENROLLED
    )
    sales_status = models.CharField(max_length=20, choices=SalesStatus.choices, default=SalesStatus.PROSPECT)
    product_status = models.CharField(
        max_length=20, choices=ProductStatus.choices, default=ProductStatus.STANDARD
    )
    finance_status = models.CharField(
        max_length=20, choices=FinanceStatus.choices, default=FinanceStatus.CURRENT
    )
    operations_status = models.CharField(
        max_length=20, choices=OperationsStatus.choices, default=OperationsStatus.UNASSIGNED
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-customer_id")
        indexes = [
            models.Index(fields=["-created_at", "-customer_id"], name="customer_created_idx"),
            models.Index(fields=["risk_level", "health_score"], name="customer_risk_idx"),
            models.Index(fields=["lifecycle_stage"], name="customer_stage_idx"),
            models.Index(fields=["segment"], name="customer_segment_idx"),
            models.Index(fields=["updated_at"], name="customer_updated_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(health_score__lte=100), name="customer_health_score_max"
            ),
            models.CheckConstraint(condition=models.Q(arr__gte=0), name="customer_arr_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.customer_id})"
