"""Customers: one record of each customer's success (health, trend, risk, stage, adoption, NPS), the
scorecards that compute health from signals, the latest signals and the history of scores."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

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

    #: when the last churn_risk_detected was published; a new alert needs a new crossing or a new drop
    churn_risk_alerted_at = models.DateTimeField(null=True, blank=True, editable=False)
    #: per status field, when the value stored was set (an older domain event does not overwrite it)
    integration_status_as_of = models.JSONField(default=dict, blank=True, editable=False)

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


class Measure(models.TextChoices):
    """What a scorecard can weigh. Each is a signal a customer reports (latest value kept)."""

    ADOPTION_RATE = "adoption_rate", "Adoption rate (0 to 1)"
    ENGAGEMENT = "engagement", "Engagement (0 to 10)"
    NPS = "nps", "NPS (-100 to 100)"
    LOGIN_FREQUENCY = "login_frequency", "Logins per month"
    SUPPORT_TICKETS = "support_tickets", "Open support tickets"
    PAYMENT_STATUS = "payment_status", "Payment status (1 current, 0.5 overdue, 0 delinquent)"


#: the values a signal may take, per measure (None: unbounded on that side)
MEASURE_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    Measure.ADOPTION_RATE: (0.0, 1.0),
    Measure.ENGAGEMENT: (0.0, 10.0),
    Measure.NPS: (-100.0, 100.0),
    Measure.LOGIN_FREQUENCY: (0.0, None),
    Measure.SUPPORT_TICKETS: (0.0, None),
    Measure.PAYMENT_STATUS: (0.0, 1.0),
}

#: payment_status may be sent as a finance status; this is the value it stands for
PAYMENT_STATUS_VALUES: dict[str, float] = {
    FinanceStatus.CURRENT: 1.0,
    FinanceStatus.OVERDUE: 0.5,
    FinanceStatus.DELINQUENT: 0.0,
}


class Normalisation(models.TextChoices):
    RANGE = "range", "Linear between minimum and maximum"
    TARGET = "target", "Ratio to a target (full marks at the target or better)"


class Direction(models.TextChoices):
    HIGHER_IS_BETTER = "higher_is_better", "Higher is better"
    LOWER_IS_BETTER = "lower_is_better", "Lower is better"


class Scorecard(models.Model):
    """How health is computed: weighted, normalised measures and score bands mapped to risk levels.

    The default scorecard applies to every customer that no other active scorecard matches; others
    apply by segment, lifecycle stage or both (the most specific match wins).
    """

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)
    segment = models.CharField(
        max_length=20, choices=Segment.choices, blank=True, help_text="Applies to this segment (blank: any)"
    )
    lifecycle_stage = models.CharField(
        max_length=12,
        choices=LifecycleStage.choices,
        blank=True,
        help_text="Applies to this stage (blank: any)",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-is_default", "name")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="scorecard_one_default"
            ),
            models.UniqueConstraint(
                fields=["segment", "lifecycle_stage"],
                condition=models.Q(is_default=False, is_active=True),
                name="scorecard_unique_target",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.is_default and (self.segment or self.lifecycle_stage):
            raise ValidationError("The default scorecard applies to everyone: leave segment and stage blank.")
        if self.is_default and not self.is_active:
            raise ValidationError({"is_active": "The default scorecard cannot be deactivated."})
        if not self.is_default and not (self.segment or self.lifecycle_stage):
            raise ValidationError("Choose a segment, a lifecycle stage or both (or make it the default).")


class ScorecardMeasure(models.Model):
    scorecard = models.ForeignKey(Scorecard, on_delete=models.CASCADE, related_name="measures")
    measure = models.CharField(max_length=32, choices=Measure.choices)
    weight = models.FloatField(validators=[MinValueValidator(0.0)], help_text="Relative weight (> 0)")
    normalisation = models.CharField(
        max_length=10, choices=Normalisation.choices, default=Normalisation.RANGE
    )
    direction = models.CharField(max_length=16, choices=Direction.choices, default=Direction.HIGHER_IS_BETTER)
    min_value = models.FloatField(
        null=True, blank=True, help_text="Range: the value worth 0 (or 1 if lower is better)"
    )
    max_value = models.FloatField(
        null=True, blank=True, help_text="Range: the value worth 1 (or 0 if lower is better)"
    )
    target_value = models.FloatField(
        null=True, blank=True, help_text="Target: the value that earns full marks"
    )

    class Meta:
        ordering = ("scorecard", "-weight", "measure")
        constraints = [
            models.UniqueConstraint(fields=["scorecard", "measure"], name="scorecard_measure_unique"),
            models.CheckConstraint(
                condition=models.Q(weight__gt=0), name="scorecard_measure_weight_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_measure_display()}, weight {self.weight:g}"

    def clean(self) -> None:
        if self.weight is not None and self.weight <= 0:
            raise ValidationError({"weight": "A weight is greater than 0."})
        if self.normalisation == Normalisation.RANGE:
            if self.min_value is None or self.max_value is None:
                raise ValidationError("A range normalisation needs a minimum and a maximum.")
            if self.max_value <= self.min_value:
                raise ValidationError({"max_value": "The maximum must be greater than the minimum."})
        elif self.normalisation == Normalisation.TARGET:
            if self.target_value is None or self.target_value <= 0:
                raise ValidationError({"target_value": "A target normalisation needs a target above 0."})


class ScorecardBand(models.Model):
    """A score from ``min_score`` up to the next band's lower bound is at ``risk_level``."""

    scorecard = models.ForeignKey(Scorecard, on_delete=models.CASCADE, related_name="bands")
    min_score = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    risk_level = models.CharField(max_length=10, choices=RiskLevel.choices)

    class Meta:
        ordering = ("scorecard", "-min_score")
        constraints = [
            models.UniqueConstraint(fields=["scorecard", "min_score"], name="scorecard_band_unique_bound"),
            models.UniqueConstraint(fields=["scorecard", "risk_level"], name="scorecard_band_unique_level"),
            models.CheckConstraint(condition=models.Q(min_score__lte=100), name="scorecard_band_max"),
        ]

    def __str__(self) -> str:
        return f"{self.min_score} and above: {self.risk_level}"


class CustomerSignal(models.Model):
    """The latest value of one signal of one customer (older observations never overwrite newer ones)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="signals")
    name = models.CharField(max_length=32, choices=Measure.choices)
    value = models.FloatField()
    observed_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("customer", "name")
        constraints = [models.UniqueConstraint(fields=["customer", "name"], name="customer_signal_unique")]

    def __str__(self) -> str:
        return f"{self.name}={self.value:g}"


class HealthSource(models.TextChoices):
    INITIAL = "initial", "Initial score"
    MANUAL = "manual", "Set by hand or by API"
    SIGNALS = "signals", "Computed from new signals"
    HEALTH_CHANGE_EVENT = "health_change_event", "Reported health change"
    RECOMPUTE = "recompute", "Scheduled recompute"


class HealthSnapshot(models.Model):
    """One score of one customer, with its breakdown and what changed since the score before it."""

    # No index of its own (and no text-pattern twin): the customer's history index leads with it.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="health_snapshots", db_index=False
    )
    score = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    previous_score = models.PositiveSmallIntegerField(null=True, blank=True)
    health_trend = models.CharField(max_length=10, choices=HealthTrend.choices)
    risk_level = models.CharField(max_length=10, choices=RiskLevel.choices)
    source = models.CharField(max_length=24, choices=HealthSource.choices)
    scorecard = models.ForeignKey(
        Scorecard, on_delete=models.SET_NULL, null=True, blank=True, related_name="snapshots"
    )
    scorecard_name = models.CharField(max_length=100, blank=True)
    #: per measure: measure, direction, raw_value, normalised_value, weight, weight_share, contribution
    breakdown = models.JSONField(default=list, blank=True)
    #: per measure: previous and current raw value and contribution, and their deltas
    changes = models.JSONField(default=list, blank=True)
    change_reason = models.CharField(max_length=100, blank=True)
    trigger_events = models.JSONField(default=list, blank=True)
    recommended_actions = models.JSONField(default=list, blank=True)
    #: False for a reported score older than the customer's latest: kept in the history, not current
    applied = models.BooleanField(default=True)
    #: the health_score_change event published for this score, if any
    event_id = models.CharField(max_length=64, blank=True)
    churn_event_id = models.CharField(max_length=64, blank=True)
    observed_at = models.DateTimeField(default=timezone.now)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-observed_at", "-id")
        indexes = [
            models.Index(fields=["customer", "-observed_at", "-id"], name="health_snapshot_customer_idx"),
            # The latest applied score of each customer (``selectors.health_states``, ``score_history``):
            # one index descent per customer instead of reading every snapshot of the range.
            models.Index(
                fields=["customer", "-id"],
                name="health_snapshot_applied_idx",
                condition=models.Q(applied=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(score__lte=100), name="health_snapshot_score_max")
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.score} at {self.observed_at:%Y-%m-%d %H:%M}"


def _touch_scorecard(sender, instance, **kwargs) -> None:
    """A measure or band changed: its scorecard's ``updated_at`` moves, which cached specs compare."""
    Scorecard.objects.filter(pk=instance.scorecard_id).update(updated_at=timezone.now())


for _model in (ScorecardMeasure, ScorecardBand):
    models.signals.post_save.connect(_touch_scorecard, sender=_model, dispatch_uid=f"touch-{_model.__name__}")
    models.signals.post_delete.connect(
        _touch_scorecard, sender=_model, dispatch_uid=f"touch-delete-{_model.__name__}"
    )
