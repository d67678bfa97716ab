"""Marketing: segments (named customer filters), campaigns with their members and control groups, the
trigger rules that map CS signals to campaign types, and each customer's journey through the lifecycle
stages (a state machine) with its history and the next actions configured per stage."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition

from csintegration.api.fields import label_validator
from csintegration.ids import new_id
from domains.customers.models import Customer, LifecycleStage

from .segment_filters import SegmentFilterError, validate_filters

SEGMENT_KEY_PATTERN = r"[a-z][a-z0-9_]{0,49}"
segment_key_validator = RegexValidator(
    rf"^{SEGMENT_KEY_PATTERN}\Z",
    "A key is a lower-case letter, then up to 49 lower-case letters, digits or '_'.",
    code="invalid_key",
)


def new_campaign_id() -> str:
    return new_id("camp")


# --- Segments -------------------------------------------------------------------------------------------


class Segment(models.Model):
    """A named customer filter in the customer list's vocabulary (see ``segment_filters``), evaluated in
    SQL whenever its members or size are asked for."""

    key = models.CharField(max_length=50, unique=True, validators=[segment_key_validator])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    filters = models.JSONField(
        default=dict,
        blank=True,
        help_text='Filter names and values, all of which must hold, e.g. {"risk_level": ["high"], '
        '"engagement_score_below": 5}; "any": [{…}, {…}] adds groups of which at least one must hold.',
    )
    #: shipped with the platform (at_risk, low_engagement): editable, never deleted
    is_builtin = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("key",)

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"

    def clean(self) -> None:
        try:
            self.filters = validate_filters(self.filters)
        except SegmentFilterError as exc:
            raise ValidationError(
                {"filters": [f"{field}: {message}" for field, message in exc.errors]}
            ) from None


# --- Campaigns ------------------------------------------------------------------------------------------


class CampaignType(models.TextChoices):
    RETENTION = "retention", "Retention"
    EXPANSION = "expansion", "Expansion"
    ONBOARDING_NURTURE = "onboarding_nurture", "Onboarding nurture"
    ADOPTION = "adoption", "Adoption"
    ADVOCACY = "advocacy", "Advocacy"
    WIN_BACK = "win_back", "Win-back"


class CampaignStatus(models.TextChoices):
    ACTIVE = "active", "Active (open: enrolling)"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class Campaign(models.Model):
    """A lifecycle campaign: its audience resolved from segments when created, its members (and its
    holdout or comparison group) with a snapshot of their success at enrolment.

    Status is a state machine: ``active`` → ``completed`` (its measured impact is then frozen) or
    ``cancelled``. Only active campaigns are open: they take members from trigger rules.
    """

    campaign_id = models.CharField(primary_key=True, max_length=64, default=new_campaign_id, editable=False)
    name = models.CharField(max_length=200)
    campaign_type = models.CharField(max_length=32, choices=CampaignType.choices)
    trigger_type = models.CharField(max_length=100, validators=[label_validator])
    status = FSMField(max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.ACTIVE)
    #: the keys named in target_audience.customer_segments, in the order given
    segment_keys = models.JSONField(default=list)
    #: each segment's filters as they were when the campaign was created (its audience's definition)
    segment_filters = models.JSONField(default=dict)
    holdout_share = models.FloatField(
        default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(0.5)]
    )
    #: distinct customers in the union of the segments when the campaign was created
    audience_size = models.PositiveIntegerField(default=0)
    #: members who receive the campaign (the audience less its holdout, plus trigger enrolments)
    members_count = models.PositiveIntegerField(default=0)
    holdout_count = models.PositiveIntegerField(default=0)
    #: what was estimated when the campaign was created (impact.Estimate.as_dict())
    estimated_impact = models.JSONField(default=dict)
    #: frozen on completion (impact.MeasuredImpact.as_dict()); computed live while active
    measured_impact = models.JSONField(null=True, blank=True)
    ends_at = models.DateTimeField(
        null=True, blank=True, help_text="The campaign completes by itself at this time (blank: by hand)"
    )
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.CharField(max_length=200, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-campaign_id")
        indexes = [
            models.Index(fields=["campaign_type", "status"], name="campaign_type_status_idx"),
            models.Index(fields=["-created_at", "-campaign_id"], name="campaign_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(holdout_share__gte=0) & models.Q(holdout_share__lte=0.5),
                name="campaign_holdout_share_range",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.campaign_id})"

    @property
    def is_open(self) -> bool:
        return self.status == CampaignStatus.ACTIVE

    @transition(field=status, source=CampaignStatus.ACTIVE, target=CampaignStatus.COMPLETED)
    def complete(self) -> None:
        self.completed_at = timezone.now()

    @transition(field=status, source=CampaignStatus.ACTIVE, target=CampaignStatus.CANCELLED)
    def cancel(self) -> None:
        self.completed_at = timezone.now()

    def allowed_statuses(self) -> list[str]:
        return [t.target for t in self.get_available_status_transitions()]


class MemberGroup(models.TextChoices):
    TREATMENT = "treatment", "Member (receives the campaign)"
    HOLDOUT = "holdout", "Holdout (held out of the campaign as its control)"
    COMPARISON = "comparison", "Comparison (entered the segments later, not enrolled)"


class MemberSource(models.TextChoices):
    AUDIENCE = "audience", "The campaign's audience when it was created"
    TRIGGER = "trigger", "A trigger rule or workflow"
    SEGMENT_ENTRY = "segment_entry", "Entered the campaign's segments after it was created"


class CampaignMember(models.Model):
    """One customer's place in a campaign, with a snapshot of its success when it joined. Treatment and
    holdout rows count as "in the campaign"; comparison rows only feed the measured impact."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="memberships")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="campaign_memberships")
    group = models.CharField(max_length=12, choices=MemberGroup.choices, default=MemberGroup.TREATMENT)
    source = models.CharField(max_length=16, choices=MemberSource.choices, default=MemberSource.AUDIENCE)
    enrolled_at = models.DateTimeField(default=timezone.now)
    baseline_health_score = models.PositiveSmallIntegerField()
    baseline_engagement_score = models.FloatField(null=True, blank=True)
    baseline_adoption_rate = models.FloatField(null=True, blank=True)
    baseline_lifecycle_stage = models.CharField(max_length=12, choices=LifecycleStage.choices)
    trigger_type = models.CharField(max_length=100, blank=True)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ("campaign", "customer")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer"], name="campaign_member_unique")
        ]
        # (campaign, customer) is unique, which serves the per-campaign reads too: one index fewer to
        # write per member when a large audience is enrolled.
        indexes = [models.Index(fields=["customer", "group"], name="campaign_member_customer_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.campaign_id} ({self.group})"


# --- Trigger rules --------------------------------------------------------------------------------------


class TriggerSignal(models.TextChoices):
    """The CS signals a rule can watch (``triggers.py`` evaluates them; ``threshold`` means, per signal:)."""

    HEALTH_DECLINING = "health_declining", "Declining health (trend declining, or a fall of threshold points)"
    CHURN_RISK = "churn_risk", "Churn risk (risk level high or critical)"
    EXPANSION_READY = "expansion_ready", "Expansion readiness (crossed the sales threshold)"
    ONBOARDING_STALLED = "onboarding_stalled", "Stalled onboarding (in onboarding more than threshold days)"
    LOW_ADOPTION = "low_adoption", "Low adoption (adoption rate below threshold, 0 to 1)"
    LOW_ENGAGEMENT = "low_engagement", "Low engagement (engagement score below threshold, 0 to 10)"
    PROMOTER = "promoter", "Promoter (NPS at least threshold)"
    CHURNED = "churned", "Churned (lifecycle stage churned)"


class TriggerRule(models.Model):
    """Maps a CS signal to a campaign type. Every active rule that holds becomes a campaign
    recommendation; an automatic one also enrols the customer into an open campaign of its type when
    health_score_change, churn_risk_detected or expansion_ready arrive."""

    name = models.CharField(max_length=200, unique=True)
    signal = models.CharField(max_length=32, choices=TriggerSignal.choices)
    threshold = models.FloatField(
        null=True, blank=True, help_text="Per signal: points, days, a rate or a score (see the signal)"
    )
    campaign_type = models.CharField(max_length=32, choices=CampaignType.choices)
    trigger_type = models.CharField(
        max_length=100, validators=[label_validator], help_text="Recorded as the trigger, e.g. health_decline"
    )
    automatic = models.BooleanField(
        default=False, help_text="Enrol into an open campaign of this type when the signal's events arrive"
    )
    is_active = models.BooleanField(default=True)
    priority = models.PositiveSmallIntegerField(default=100, help_text="Lower is evaluated and listed first")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("priority", "name")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from .triggers import threshold_problem

        problem = threshold_problem(self.signal, self.threshold)
        if problem:
            raise ValidationError({"threshold": problem})


# --- Journeys -------------------------------------------------------------------------------------------

S = LifecycleStage

#: the journey's allowed moves: from each stage, the stages it may go to (the transitions below)
JOURNEY_TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.ONBOARDING: (S.ADOPTION, S.AT_RISK, S.CHURNED),
    S.ADOPTION: (S.EXPANSION, S.RENEWAL, S.AT_RISK, S.CHURNED),
    S.EXPANSION: (S.ADOPTION, S.RENEWAL, S.AT_RISK, S.CHURNED),
    S.RENEWAL: (S.ADOPTION, S.EXPANSION, S.AT_RISK, S.CHURNED),
    S.AT_RISK: (S.ONBOARDING, S.ADOPTION, S.RENEWAL, S.CHURNED),
    S.CHURNED: (S.ONBOARDING,),
}


def _sources(target: str) -> list[str]:
    return [source for source, targets in JOURNEY_TRANSITIONS.items() if target in targets]


class Journey(models.Model):
    """A customer's place in the lifecycle journey: a state machine (django-fsm) over the lifecycle
    stages, whose transitions are ``JOURNEY_TRANSITIONS``. The customer record's ``lifecycle_stage``
    follows it through ``journey_stage_changed``."""

    customer = models.OneToOneField(
        Customer, primary_key=True, on_delete=models.CASCADE, related_name="marketing_journey"
    )
    stage = FSMField(max_length=12, choices=LifecycleStage.choices, default=LifecycleStage.ONBOARDING)
    entered_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.stage}"

    @transition(field=stage, source=_sources(S.ONBOARDING), target=S.ONBOARDING)
    def to_onboarding(self) -> None:
        pass

    @transition(field=stage, source=_sources(S.ADOPTION), target=S.ADOPTION)
    def to_adoption(self) -> None:
        pass

    @transition(field=stage, source=_sources(S.EXPANSION), target=S.EXPANSION)
    def to_expansion(self) -> None:
        pass

    @transition(field=stage, source=_sources(S.RENEWAL), target=S.RENEWAL)
    def to_renewal(self) -> None:
        pass

    @transition(field=stage, source=_sources(S.AT_RISK), target=S.AT_RISK)
    def to_at_risk(self) -> None:
        pass

    @transition(field=stage, source=_sources(S.CHURNED), target=S.CHURNED)
    def to_churned(self) -> None:
        pass

    def allowed_stages(self) -> list[str]:
        """The stages the journey may move to from its current one, in the stages' order."""
        available = {t.target for t in self.get_available_stage_transitions()}
        return [stage for stage in LifecycleStage.values if stage in available]

    def transition_to(self, stage: str):
        """The transition method that moves the journey to ``stage``."""
        return getattr(self, f"to_{stage}")


class JourneyEntry(models.Model):
    """One stay in one stage: when it began and ended, why, and who moved the customer there."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="journey_entries")
    stage = models.CharField(max_length=12, choices=LifecycleStage.choices)
    from_stage = models.CharField(max_length=12, choices=LifecycleStage.choices, blank=True)
    entered_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    #: ``client:<client_id>``, ``staff:<username>``, ``sales_handoff``, ``customer_record``, ``initial``…
    changed_by = models.CharField(max_length=200)
    #: the event that recorded this stay (handoffs, direct writes): each is recorded once
    source_event_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    #: the journey_stage_changed event this move published
    event_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ("customer", "-entered_at", "-id")
        verbose_name_plural = "journey entries"
        indexes = [models.Index(fields=["customer", "-entered_at", "-id"], name="journey_entry_customer_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.stage} from {self.entered_at:%Y-%m-%d %H:%M}"


class StageAction(models.Model):
    """A next action recommended while a customer is in a stage (``next_actions`` of the journey)."""

    stage = models.CharField(max_length=12, choices=LifecycleStage.choices)
    action = models.CharField(max_length=100, validators=[label_validator])
    description = models.CharField(max_length=300, blank=True)
    order = models.PositiveSmallIntegerField(default=100)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ("stage", "order", "action")
        constraints = [models.UniqueConstraint(fields=["stage", "action"], name="stage_action_unique")]

    def __str__(self) -> str:
        return f"{self.stage}: {self.action}"
