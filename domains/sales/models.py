"""Sales: the sales-to-CS handoff with its success plan and baseline, expansion opportunities, success
milestones, the expansion-readiness model (a weighted scorecard kept in the database) and each
customer's readiness state (the score last evaluated and whether ``expansion_ready`` was announced)."""

from __future__ import annotations

import json
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition

from csintegration.encryption.fields import EncryptedTextField
from csintegration.ids import new_id
from domains.customers.models import Customer, HealthTrend, RiskLevel

MONEY = {"max_digits": 14, "decimal_places": 2}


def new_handoff_id() -> str:
    return new_id("hnd")


def new_plan_id() -> str:
    return new_id("plan")


def new_plan_task_id() -> str:
    return new_id("plantask")


def new_goal_id() -> str:
    return new_id("goal")


def new_opportunity_id() -> str:
    return new_id("opp")


def new_milestone_id() -> str:
    return new_id("ms")


# --- The handoff and its success plan --------------------------------------------------------------------


class Handoff(models.Model):
    """One customer's sales-to-CS handoff (at most one per customer), with the baseline taken then.

    The stakeholders' e-mails and the sales notes are stored encrypted (AES-256-GCM) and never leave the
    platform in an event, a log line or an API answer; the admin shows them to staff.
    """

    handoff_id = models.CharField(primary_key=True, max_length=64, default=new_handoff_id, editable=False)
    # Reverse names on Customer carry the app's name: other domains hang their own rows there too.
    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="sales_handoff")
    deal_value = models.DecimalField(**MONEY, validators=[MinValueValidator(0)])
    contract_terms = models.CharField(max_length=100, help_text="e.g. 3_year")
    #: a JSON list of e-mail addresses, encrypted at rest
    key_stakeholders = EncryptedTextField(blank=True, default="")
    sales_notes = EncryptedTextField(blank=True, default="")
    success_criteria = models.JSONField(default=list, blank=True, help_text="Labels, e.g. roi_target")
    #: the OAuth client (or staff user) that completed the handoff
    handed_off_by = models.CharField(max_length=150, blank=True)

    # What the customer looked like at the handoff, to measure the success plan against.
    baseline_health_score = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    baseline_health_trend = models.CharField(max_length=10, choices=HealthTrend.choices)
    baseline_risk_level = models.CharField(max_length=10, choices=RiskLevel.choices)
    baseline_adoption_rate = models.FloatField(null=True, blank=True)
    baseline_engagement_score = models.FloatField(null=True, blank=True)
    baseline_nps_score = models.SmallIntegerField(null=True, blank=True)
    baseline_arr = models.DecimalField(**MONEY)

    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("-created_at", "-handoff_id")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(deal_value__gte=0), name="handoff_deal_value_non_negative"
            )
        ]

    def __str__(self) -> str:
        return f"Handoff of {self.customer_id} ({self.handoff_id})"

    @property
    def stakeholder_emails(self) -> list[str]:
        return json.loads(self.key_stakeholders) if self.key_stakeholders else []

    @stakeholder_emails.setter
    def stakeholder_emails(self, emails: list[str]) -> None:
        self.key_stakeholders = json.dumps(list(emails)) if emails else ""


class PlanStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"


class SuccessPlan(models.Model):
    """What CS does after the handoff: onboarding from a date, a success manager, tasks and goals."""

    plan_id = models.CharField(primary_key=True, max_length=64, default=new_plan_id, editable=False)
    handoff = models.OneToOneField(Handoff, on_delete=models.CASCADE, related_name="success_plan")
    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="sales_success_plan")
    onboarding_start = models.DateField()
    success_manager = models.EmailField()
    first_check_in = models.DateField()
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-plan_id")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(first_check_in__gte=models.F("onboarding_start")),
                name="success_plan_check_in_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"Success plan of {self.customer_id}"


class PlanTaskKind(models.TextChoices):
    ONBOARDING_KICKOFF = "onboarding_kickoff", "Onboarding kick-off"
    FIRST_CHECK_IN = "first_check_in", "First check-in"
    SUCCESS_REVIEW = "success_review", "Success criteria review"


class PlanTaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"


class SuccessPlanTask(models.Model):
    """One step of a success plan, due on a date."""

    task_id = models.CharField(primary_key=True, max_length=64, default=new_plan_task_id, editable=False)
    plan = models.ForeignKey(SuccessPlan, on_delete=models.CASCADE, related_name="tasks")
    kind = models.CharField(max_length=24, choices=PlanTaskKind.choices)
    title = models.CharField(max_length=200)
    due_date = models.DateField()
    assignee = models.EmailField(blank=True)
    status = models.CharField(max_length=8, choices=PlanTaskStatus.choices, default=PlanTaskStatus.OPEN)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("plan", "due_date", "task_id")
        constraints = [models.UniqueConstraint(fields=["plan", "kind"], name="success_plan_task_kind_unique")]
        indexes = [models.Index(fields=["status", "due_date"], name="plan_task_due_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} due {self.due_date:%Y-%m-%d}"


class GoalStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACHIEVED = "achieved", "Achieved"


class SuccessGoal(models.Model):
    """A success criterion of the handoff, tracked as a goal: achieved by the matching milestone."""

    goal_id = models.CharField(primary_key=True, max_length=64, default=new_goal_id, editable=False)
    plan = models.ForeignKey(SuccessPlan, on_delete=models.CASCADE, related_name="goals")
    criterion = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=GoalStatus.choices, default=GoalStatus.OPEN)
    achieved_at = models.DateTimeField(null=True, blank=True)
    milestone = models.ForeignKey(
        "Milestone", on_delete=models.SET_NULL, null=True, blank=True, related_name="goals"
    )

    class Meta:
        ordering = ("plan", "criterion")
        constraints = [models.UniqueConstraint(fields=["plan", "criterion"], name="success_goal_unique")]

    def __str__(self) -> str:
        return f"{self.criterion} ({self.status})"


# --- Opportunities and milestones --------------------------------------------------------------------------


class OpportunityType(models.TextChoices):
    UPSELL = "upsell", "Upsell"
    CROSS_SELL = "cross_sell", "Cross-sell"


class OpportunityStatus(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class Opportunity(models.Model):
    """An expansion opportunity. ``open`` → ``won`` or ``lost``; a closed one stays closed.

    ``timeline`` is the expected close: a quarter (``q1_2026``) or a month (``2026-03``), kept normalised,
    with the dates it spans for period queries.
    """

    opportunity_id = models.CharField(
        primary_key=True, max_length=64, default=new_opportunity_id, editable=False
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="sales_opportunities")
    type = models.CharField(max_length=12, choices=OpportunityType.choices)
    product = models.CharField(max_length=100)
    value_estimate = models.DecimalField(**MONEY, validators=[MinValueValidator(0)])
    probability = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text="0 to 1",
    )
    timeline = models.CharField(max_length=16, help_text="q1_2026 or 2026-03")
    timeline_start = models.DateField(editable=False)
    timeline_end = models.DateField(editable=False)
    status = FSMField(max_length=8, choices=OpportunityStatus.choices, default=OpportunityStatus.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-opportunity_id")
        verbose_name_plural = "opportunities"
        indexes = [
            models.Index(fields=["customer", "status"], name="opportunity_customer_idx"),
            models.Index(
                fields=["status", "timeline_start", "timeline_end"], name="opportunity_timeline_idx"
            ),
            models.Index(fields=["-created_at", "-opportunity_id"], name="opportunity_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(probability__gte=0, probability__lte=1), name="opportunity_probability_0_1"
            ),
            models.CheckConstraint(
                condition=models.Q(value_estimate__gte=0), name="opportunity_value_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.product} for {self.customer_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status == OpportunityStatus.OPEN

    @transition(field=status, source=OpportunityStatus.OPEN, target=OpportunityStatus.WON)
    def win(self) -> None:
        self.closed_at = timezone.now()

    @transition(field=status, source=OpportunityStatus.OPEN, target=OpportunityStatus.LOST)
    def lose(self) -> None:
        self.closed_at = timezone.now()

    def allowed_statuses(self) -> list[str]:
        """The statuses this opportunity may move to (its own status aside)."""
        return [t.target for t in self.get_available_status_transitions()]


class MilestoneKind(models.TextChoices):
    """Evidence of success a customer reached; ``achieved_<criterion>`` achieves that success goal."""

    ONBOARDING_COMPLETED = "onboarding_completed", "Onboarding completed"
    FIRST_VALUE_DELIVERED = "first_value_delivered", "First value delivered"
    ACHIEVED_ADOPTION_TARGET = "achieved_adoption_target", "Achieved the adoption target"
    ACHIEVED_ROI_TARGET = "achieved_roi_target", "Achieved the ROI target"
    EXECUTIVE_SPONSORSHIP = "executive_sponsorship", "Executive sponsorship secured"
    EXPANSION_REQUESTED = "expansion_requested_by_customer", "Expansion requested by the customer"
    BUSINESS_REVIEW_COMPLETED = "business_review_completed", "Business review completed"
    REFERENCE_PROVIDED = "reference_provided", "Reference or case study provided"
    RENEWAL_SIGNED = "renewal_signed", "Renewal signed"


class Milestone(models.Model):
    """A success milestone of a customer: each kind is reached once."""

    milestone_id = models.CharField(primary_key=True, max_length=64, default=new_milestone_id, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="sales_milestones")
    milestone = models.CharField(max_length=40, choices=MilestoneKind.choices)
    achieved_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=500, blank=True)
    recorded_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("-achieved_at", "-milestone_id")
        constraints = [
            models.UniqueConstraint(fields=["customer", "milestone"], name="milestone_once_per_customer")
        ]
        indexes = [
            models.Index(fields=["customer", "-achieved_at"], name="milestone_customer_idx"),
            models.Index(fields=["-created_at", "-milestone_id"], name="milestone_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.milestone} ({self.customer_id}, {self.achieved_at:%Y-%m-%d})"


# --- The expansion-readiness model -------------------------------------------------------------------------


class ReadinessFactorKind(models.TextChoices):
    ADOPTION = "adoption", "Adoption rate (0 to 1)"
    HEALTH = "health", "Health score (0 to 100)"
    ENGAGEMENT = "engagement", "Engagement score (0 to 10)"
    NPS = "nps", "NPS (-100 to 100)"
    TREND = "trend", "Health trend (improving 1, stable 0.5, declining 0)"
    MILESTONES = "milestones", "Success milestones reached in the last window_days"


#: the label a factor is listed under in ``readiness_factors`` unless the model names another
DEFAULT_FACTOR_LABELS = {
    ReadinessFactorKind.ADOPTION: "high_product_adoption",
    ReadinessFactorKind.HEALTH: "strong_health_score",
    ReadinessFactorKind.ENGAGEMENT: "strong_engagement",
    ReadinessFactorKind.NPS: "promoter_nps",
    ReadinessFactorKind.TREND: "improving_health_trend",
    ReadinessFactorKind.MILESTONES: "recent_success_milestones",
}


class Normalisation(models.TextChoices):
    RANGE = "range", "Linear between minimum and maximum"
    TARGET = "target", "Ratio to a target (full marks at the target or better)"


class ReadinessModel(models.Model):
    """How expansion readiness is scored: weighted, normalised factors and the threshold at which a
    customer is announced ready (``expansion_ready``). Exactly one model is active."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=False)
    threshold = models.PositiveSmallIntegerField(
        default=70,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="A score at or above this is ready; crossing it upwards publishes expansion_ready",
    )
    rearm_margin = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(50)],
        help_text="After an announcement, the score must fall below threshold minus this many points "
        "before a new crossing is announced (0: below the threshold)",
    )
    top_factors = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(6)],
        help_text="How many factors readiness_factors lists at most",
    )
    strong_share = models.FloatField(
        default=0.6,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="A factor is listed only if its normalised value (0 to 1) is at least this",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-is_active", "name")
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=models.Q(is_active=True), name="readiness_model_one_active"
            ),
            models.CheckConstraint(
                condition=models.Q(threshold__gte=1, threshold__lte=100), name="readiness_threshold_1_100"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ReadinessFactor(models.Model):
    model = models.ForeignKey(ReadinessModel, on_delete=models.CASCADE, related_name="factors")
    factor = models.CharField(max_length=16, choices=ReadinessFactorKind.choices)
    weight = models.FloatField(validators=[MinValueValidator(0.0)], help_text="Relative weight (> 0)")
    normalisation = models.CharField(
        max_length=10, choices=Normalisation.choices, default=Normalisation.RANGE
    )
    min_value = models.FloatField(null=True, blank=True, help_text="Range: the raw value worth 0")
    max_value = models.FloatField(null=True, blank=True, help_text="Range: the raw value worth full marks")
    target_value = models.FloatField(
        null=True, blank=True, help_text="Target: the raw value worth full marks"
    )
    window_days = models.PositiveSmallIntegerField(
        default=180,
        validators=[MinValueValidator(1), MaxValueValidator(3660)],
        help_text="Milestones: count those reached in this many days before now",
    )
    label = models.CharField(
        max_length=100, blank=True, help_text="Name in readiness_factors (blank: the factor's usual label)"
    )

    class Meta:
        ordering = ("model", "-weight", "factor")
        constraints = [
            models.UniqueConstraint(fields=["model", "factor"], name="readiness_factor_unique"),
            models.CheckConstraint(condition=models.Q(weight__gt=0), name="readiness_factor_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_factor_display()}, weight {self.weight:g}"

    @property
    def display_label(self) -> str:
        return self.label or DEFAULT_FACTOR_LABELS[self.factor]

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


class ExpansionReadiness(models.Model):
    """A customer's readiness as last evaluated, and the crossing state of ``expansion_ready``.

    ``above_threshold`` is True from the evaluation that announced a crossing until the score falls
    below the threshold (minus the model's re-arm margin); only a new upward crossing announces again.
    """

    customer = models.OneToOneField(
        Customer, primary_key=True, on_delete=models.CASCADE, related_name="sales_readiness"
    )
    score = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    threshold = models.PositiveSmallIntegerField(default=0)
    model_name = models.CharField(max_length=100, blank=True)
    #: per factor: factor, label, raw_value, normalised_value, weight, weight_share, points
    breakdown = models.JSONField(default=list, blank=True)
    above_threshold = models.BooleanField(default=False)
    last_crossed_at = models.DateTimeField(null=True, blank=True)
    crossings = models.PositiveIntegerField(default=0, help_text="expansion_ready announcements so far")
    last_event_id = models.CharField(max_length=64, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-score", "customer")
        verbose_name_plural = "expansion readiness"
        indexes = [models.Index(fields=["above_threshold", "-score"], name="readiness_ready_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.score}"


def _touch_readiness_model(sender, instance, **kwargs) -> None:
    """A factor changed: its model's ``updated_at`` moves, which the cached spec compares."""
    ReadinessModel.objects.filter(pk=instance.model_id).update(updated_at=timezone.now())


models.signals.post_save.connect(_touch_readiness_model, sender=ReadinessFactor, dispatch_uid="touch-factor")
models.signals.post_delete.connect(
    _touch_readiness_model, sender=ReadinessFactor, dispatch_uid="touch-delete-factor"
)
