"""Product: features and their daily usage per customer, the adoption kept current from that usage, and
customer feedback with its delivery workflow.

Adoption is stored in three layers so that ``GET /adoption/{feature_id}`` costs the same at a thousand
customers as at a million (docs/domains/product.md, "How adoption is stored"):

- ``FeatureUsage``: the raw daily counts, one row per customer, feature and day;
- ``FeatureAdoption``: per customer and feature, ``adopted_from``, the latest day from which the usage
  recorded up to today reaches the feature's threshold, so that the customer has adopted the feature
  under a window of W days exactly when ``adopted_from >= today - W + 1``; kept current by the usage
  writes, whatever the day;
- ``AdoptionCell`` and ``AdoptionPopulation``: counts, sums and sums of squares of adopters and of
  customers, by segment and churn, which the endpoint adds up; ``AdoptionProfile`` records, per
  customer, the segment, churn and health they were counted with, so that a change is applied as a
  difference.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django_fsm import FSMField, FSMModelMixin, transition

from csintegration.encryption.fields import EncryptedTextField
from csintegration.ids import ID_MAX_LENGTH, new_id
from domains.customers.models import Customer, Segment

from .conf import conf

FEATURE_ID_PREFIX = "feat"
FEEDBACK_ID_PREFIX = "fb"


def new_feature_id() -> str:
    return new_id(FEATURE_ID_PREFIX)


def new_feedback_id() -> str:
    return new_id(FEEDBACK_ID_PREFIX)


# --- Features and usage --------------------------------------------------------------------------------


class Feature(models.Model):
    """A product capability whose adoption is tracked: adopted by a customer when its usage over the last
    ``window_days`` days (today included) reaches ``adoption_threshold``."""

    feature_id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=new_feature_id)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    adoption_threshold = models.PositiveIntegerField(
        default=1,
        validators=[MinValueValidator(1)],
        help_text="Uses within the window that make a customer an adopter",
    )
    window_days = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(1)],
        help_text="Days (today included) over which usage is added up",
    )
    is_active = models.BooleanField(
        default=True,
        help_text="Counted in customers' adoption rates (leave off while a feature rolls out)",
    )
    #: the threshold ``FeatureAdoption.adopted_from`` was computed with; differs while a recompute runs
    summary_threshold = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "feature_id")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(adoption_threshold__gte=1), name="feature_threshold_min"
            ),
            models.CheckConstraint(condition=models.Q(window_days__gte=1), name="feature_window_min"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.feature_id})"

    def clean(self) -> None:
        if self.window_days and self.window_days > conf.PRODUCT_MAX_WINDOW_DAYS:
            raise ValidationError(
                {"window_days": f"At most {conf.PRODUCT_MAX_WINDOW_DAYS} days (PRODUCT_MAX_WINDOW_DAYS)."}
            )

    @property
    def recomputing(self) -> bool:
        return self.summary_threshold != self.adoption_threshold


class FeatureUsage(models.Model):
    """How many times one customer used one feature on one day (UTC). Sending the same customer, feature
    and day again replaces the count."""

    # No index of their own: the unique (customer, feature, date) and (feature, date) cover them.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="feature_usage", db_index=False
    )
    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="usage", db_index=False)
    date = models.DateField()
    count = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-date", "-id")
        constraints = [
            models.UniqueConstraint(fields=["customer", "feature", "date"], name="feature_usage_unique_day"),
        ]
        indexes = [
            # The roll-off deletes by day; the reference computation reads one feature's recent days.
            models.Index(fields=["feature", "date"], name="feature_usage_feature_day"),
            models.Index(fields=["date"], name="feature_usage_day"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.feature_id} {self.date}: {self.count}"


class FeatureAdoption(models.Model):
    """Where one customer stands with one feature (the summary the usage writes keep current).

    ``customer_id`` is not a foreign key on purpose: when a customer is deleted its contribution to the
    aggregates must be taken out first (``aggregates.py``), which a cascade would skip.
    """

    customer_id = models.CharField(max_length=ID_MAX_LENGTH)
    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="adoptions", db_index=False)
    #: the latest day d such that the usage from d up to today reaches the threshold (null: not within
    #: the last PRODUCT_MAX_WINDOW_DAYS); adopted under a W-day window iff adopted_from >= today - W + 1
    adopted_from = models.DateField(null=True, blank=True)
    last_used_on = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("customer_id", "feature_id")
        constraints = [
            models.UniqueConstraint(fields=["customer_id", "feature"], name="feature_adoption_unique"),
        ]
        indexes = [
            models.Index(fields=["feature", "adopted_from"], name="feature_adoption_from"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.feature_id} from {self.adopted_from or '-'}"


class AdoptionProfile(models.Model):
    """The segment, churn and health one customer is counted with in the adoption aggregates."""

    customer_id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH)
    #: False until the customer's contribution has been added (a row may exist a moment before)
    counted = models.BooleanField(default=False)
    segment = models.CharField(max_length=20, choices=Segment.choices, blank=True)
    churned = models.BooleanField(default=False)
    health_score = models.PositiveSmallIntegerField(default=0)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("customer_id",)

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.segment}, churned {self.churned}, health {self.health_score}"


class AdoptionCell(models.Model):
    """The adopters of one feature in one segment and churn state whose ``adopted_from`` is one day: how
    many, and the sum of their health scores. An endpoint adds up the cells of the days in its window."""

    feature = models.ForeignKey(
        Feature, on_delete=models.CASCADE, related_name="adoption_cells", db_index=False
    )
    segment = models.CharField(max_length=20, choices=Segment.choices)
    churned = models.BooleanField()
    adopted_from = models.DateField()
    adopters = models.BigIntegerField(default=0)
    health_sum = models.BigIntegerField(default=0)

    class Meta:
        ordering = ("feature_id", "segment", "churned", "-adopted_from")
        constraints = [
            models.UniqueConstraint(
                fields=["feature", "segment", "churned", "adopted_from"], name="adoption_cell_unique"
            ),
        ]
        indexes = [models.Index(fields=["feature", "adopted_from"], name="adoption_cell_window")]

    def __str__(self) -> str:
        return f"{self.feature_id} {self.segment} churned={self.churned} {self.adopted_from}: {self.adopters}"


class AdoptionPopulation(models.Model):
    """Every counted customer of one segment and churn state: how many, and the sums of their health
    scores and of their squares."""

    segment = models.CharField(max_length=20, choices=Segment.choices)
    churned = models.BooleanField()
    customers = models.BigIntegerField(default=0)
    health_sum = models.BigIntegerField(default=0)
    health_square_sum = models.BigIntegerField(default=0)

    class Meta:
        ordering = ("segment", "churned")
        constraints = [
            models.UniqueConstraint(fields=["segment", "churned"], name="adoption_population_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.segment} churned={self.churned}: {self.customers}"


class AdoptionSyncState(models.Model):
    """The one row that says up to when customer changes were brought into the profiles."""

    key = models.CharField(primary_key=True, max_length=32, default="profiles")
    synced_until = models.DateTimeField(null=True, blank=True)
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    last_drift = models.JSONField(default=dict, blank=True, help_text="What the last rebuild corrected")

    def __str__(self) -> str:
        return f"profiles synced until {self.synced_until}"


class AdoptionSnapshot(models.Model):
    """One feature's adoption in one segment as of one day, under its own window and threshold then
    (taken nightly): the history the "falling adoption" rule and the admin's trend read."""

    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="snapshots", db_index=False)
    day = models.DateField()
    segment = models.CharField(max_length=20, choices=Segment.choices)
    window_days = models.PositiveSmallIntegerField()
    adoption_threshold = models.PositiveIntegerField()
    customers = models.BigIntegerField(help_text="Non-churned customers of the segment")
    adopters = models.BigIntegerField(help_text="Of whom had adopted the feature")

    class Meta:
        ordering = ("feature_id", "-day", "segment")
        constraints = [
            models.UniqueConstraint(fields=["feature", "day", "segment"], name="adoption_snapshot_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.feature_id} {self.day} {self.segment}: {self.adopters}/{self.customers}"


# --- Feedback ----------------------------------------------------------------------------------------


class FeedbackType(models.TextChoices):
    FEATURE_REQUEST = "feature_request", "Feature request"
    IMPROVEMENT = "improvement", "Improvement"
    BUG_REPORT = "bug_report", "Bug report"
    USABILITY = "usability", "Usability"
    INTEGRATION = "integration", "Integration"
    OTHER = "other", "Other"


class FeedbackPriority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class BusinessImpact(models.TextChoices):
    NICE_TO_HAVE = "nice_to_have", "Nice to have"
    EFFICIENCY_GAIN = "efficiency_gain", "Efficiency gain"
    CRITICAL_FOR_SUCCESS = "critical_for_success", "Critical for success"
    RENEWAL_BLOCKER = "renewal_blocker", "Renewal blocker"


class FeedbackStatus(models.TextChoices):
    NEW = "new", "New"
    UNDER_REVIEW = "under_review", "Under review"
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    DELIVERED = "delivered", "Delivered"
    DECLINED = "declined", "Declined"


#: statuses of a request still waiting for delivery (ranked by priority)
OPEN_STATUSES = (
    FeedbackStatus.NEW,
    FeedbackStatus.UNDER_REVIEW,
    FeedbackStatus.PLANNED,
    FeedbackStatus.IN_PROGRESS,
)
#: statuses in which a committed release is kept (a commitment, or the release it shipped in)
COMMITTED_STATUSES = (FeedbackStatus.PLANNED, FeedbackStatus.IN_PROGRESS, FeedbackStatus.DELIVERED)


class Feedback(FSMModelMixin, models.Model):
    """One piece of customer feedback for the product team, with its delivery commitment.

    ``status`` moves only through the transitions below (a documented state machine); the service
    ``feedback_update`` picks the transition for the status asked for.
    """

    feedback_id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=new_feedback_id)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="feedback")
    type = models.CharField(max_length=20, choices=FeedbackType.choices)
    category = models.CharField(max_length=100, help_text="A label, e.g. workflow_automation")
    priority = models.CharField(max_length=10, choices=FeedbackPriority.choices)
    business_impact = models.CharField(max_length=24, choices=BusinessImpact.choices)
    #: encrypted at rest (AES-256-GCM); never in an event, a log line or a stored response
    description = EncryptedTextField()
    #: the seed's success_context: health_impact, efficiency_gain, customer_value
    success_context = models.JSONField(default=dict, blank=True)
    priority_score = models.FloatField(
        default=0,
        help_text="0 to 100 from priority, business impact, ARR and health (docs/domains/product.md)",
    )
    #: the inputs of the latest priority_score, to show how it was reached
    priority_inputs = models.JSONField(default=dict, blank=True, editable=False)
    status = FSMField(default=FeedbackStatus.NEW, choices=FeedbackStatus.choices, protected=True)
    committed_release = models.CharField(max_length=100, blank=True)
    committed_by = models.CharField(max_length=150, blank=True, help_text="Client id or staff user")
    committed_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.CharField(max_length=150, blank=True, help_text="Client id or staff user")
    status_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "feedback"
        ordering = ("-created_at", "-feedback_id")
        indexes = [
            models.Index(fields=["status", "-priority_score"], name="feedback_status_rank"),
            models.Index(fields=["-priority_score", "-feedback_id"], name="feedback_rank"),
            models.Index(fields=["customer", "-created_at"], name="feedback_customer"),
            models.Index(fields=["category"], name="feedback_category"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(priority_score__gte=0, priority_score__lte=100),
                name="feedback_priority_score_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.feedback_id} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    # The state machine. new → under_review | planned | declined; under_review → planned | declined;
    # planned → in_progress | under_review | declined; in_progress → delivered | planned;
    # declined → under_review; delivered is final.

    @transition(field=status, source=FeedbackStatus.NEW, target=FeedbackStatus.UNDER_REVIEW)
    def start_review(self) -> None:
        pass

    @transition(
        field=status,
        source=[FeedbackStatus.PLANNED, FeedbackStatus.DECLINED],
        target=FeedbackStatus.UNDER_REVIEW,
    )
    def reopen_review(self) -> None:
        pass

    @transition(
        field=status, source=[FeedbackStatus.NEW, FeedbackStatus.UNDER_REVIEW], target=FeedbackStatus.PLANNED
    )
    def plan(self) -> None:
        pass

    @transition(field=status, source=FeedbackStatus.IN_PROGRESS, target=FeedbackStatus.PLANNED)
    def pause(self) -> None:
        pass

    @transition(field=status, source=FeedbackStatus.PLANNED, target=FeedbackStatus.IN_PROGRESS)
    def start_work(self) -> None:
        pass

    @transition(field=status, source=FeedbackStatus.IN_PROGRESS, target=FeedbackStatus.DELIVERED)
    def deliver(self) -> None:
        pass

    @transition(
        field=status,
        source=[FeedbackStatus.NEW, FeedbackStatus.UNDER_REVIEW, FeedbackStatus.PLANNED],
        target=FeedbackStatus.DECLINED,
    )
    def decline(self) -> None:
        pass

    def allowed_statuses(self) -> list[str]:
        """The statuses this request may move to now, in the order of ``FeedbackStatus``."""
        targets = {transition.target for transition in self.get_available_status_transitions()}
        return [value for value in FeedbackStatus.values if value in targets]

    def transition_to(self, status: str):
        """The transition method that moves this request to ``status``, or None if there is none."""
        for candidate in self.get_available_status_transitions():
            if candidate.target == status:
                return getattr(self, candidate.name)
        return None


class FeedbackTransition(models.Model):
    """One move of a feedback's status, or a change of its committed release: the workflow's history."""

    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=20, choices=FeedbackStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=FeedbackStatus.choices)
    committed_release = models.CharField(max_length=100, blank=True)
    changed_by = models.CharField(max_length=150, blank=True)
    event_id = models.CharField(max_length=ID_MAX_LENGTH, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ("feedback_id", "at", "id")

    def __str__(self) -> str:
        return f"{self.feedback_id}: {self.from_status or '-'} → {self.to_status}"
