"""Every write of the product domain: features, daily usage (which keeps adoption, the aggregates and the
customers' adoption rates current), the nightly jobs' writes, and feedback with its delivery workflow.

Keyword-only and typed; each owns its transaction and publishes its events in it (the outbox).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from csintegration.db import locked_by_key, model_update
from csintegration.events import EventMessage, publish_many
from csintegration.tasks import enqueue_after_commit
from domains.customers.health import SignalInput, health_signals_record
from domains.customers.models import Customer

from . import adoption, aggregates, events, priority, selectors
from .conf import conf
from .models import (
    COMMITTED_STATUSES,
    OPEN_STATUSES,
    AdoptionSnapshot,
    Feature,
    FeatureAdoption,
    FeatureUsage,
    Feedback,
    FeedbackStatus,
    FeedbackTransition,
    new_feature_id,
)

# --- Features --------------------------------------------------------------------------------------

FEATURE_FIELDS = ("name", "description", "adoption_threshold", "window_days", "is_active")


class FeatureExists(Exception):
    """A feature with this id exists already."""


def _refresh_rates_after_commit() -> None:
    enqueue_after_commit("product.recompute_adoption_rates", queue="bulk")


@transaction.atomic
def feature_create(*, data: dict[str, Any], feature_id: str | None = None) -> Feature:
    """Create a feature; an active one changes every customer's adoption rate (one more feature to
    adopt), which the bulk worker recomputes. Raises ``FeatureExists``."""
    feature = Feature(feature_id=feature_id or new_feature_id())
    model_update(instance=feature, data=data, fields=FEATURE_FIELDS, save=False)
    feature.summary_threshold = feature.adoption_threshold
    try:
        with transaction.atomic():
            feature.save(force_insert=True)
    except IntegrityError:
        raise FeatureExists(feature.feature_id) from None
    if feature.is_active:
        _refresh_rates_after_commit()
    return feature


@transaction.atomic
def feature_update(*, feature: Feature, data: dict[str, Any]) -> Feature:
    """Change a feature. A new threshold recomputes its adoption from the usage in the background (the
    report says ``recomputing`` until then); a new window or activity recomputes adoption rates."""
    locked = locked_by_key(Feature, [feature.pk])[feature.pk]
    changed = model_update(instance=locked, data=data, fields=FEATURE_FIELDS)
    if "adoption_threshold" in changed:
        enqueue_after_commit("product.recompute_feature_adoption", args=(locked.pk,), queue="bulk")
    elif {"window_days", "is_active"} & set(changed):
        _refresh_rates_after_commit()
    return locked


# --- Usage -----------------------------------------------------------------------------------------

CREATED, REPLACED, ERROR = "created", "replaced", "error"


@dataclass(frozen=True)
class UsageInput:
    index: int
    customer_id: str
    feature_id: str
    date: date
    count: int


@dataclass
class UsageResult:
    index: int
    status: str
    customer_id: str
    feature_id: str
    date: date
    count: int
    adopted: bool | None = None
    adoption_rate: float | None = None
    errors: list[dict[str, str]] = field(default_factory=list)


def _error(item: UsageInput, field_name: str, code: str, message: str) -> UsageResult:
    return UsageResult(
        item.index,
        ERROR,
        item.customer_id,
        item.feature_id,
        item.date,
        item.count,
        errors=[{"field": field_name, "code": code, "message": message}],
    )


def _adoption_rates(*, customer_ids: Sequence[str], today: date) -> dict[str, float]:
    features = selectors.active_features()
    counts = aggregates.adopted_feature_counts(customer_ids=customer_ids, features=features, today=today)
    rates = {}
    for customer_id in customer_ids:
        rate = adoption.adoption_rate(counts.get(customer_id, 0), len(features))
        if rate is not None:
            rates[customer_id] = rate
    return rates


def _send_adoption_rates(rates: dict[str, float], observed_at: datetime) -> None:
    if rates:
        health_signals_record(
            items=[
                SignalInput(customer_id, {"adoption_rate": rate}, observed_at)
                for customer_id, rate in rates.items()
            ]
        )


@transaction.atomic
def usage_record_many(*, items: Sequence[UsageInput]) -> list[UsageResult]:
    """Record daily usage (a triple sent again replaces its count) in a bounded number of queries.

    In one transaction: the customers are locked (then their profiles, adoption rows and cells, the
    order every writer follows); each touched (customer, feature) is recomputed from its usage and its
    cells moved; ``feature_adopted`` is published for each new adoption; and each touched customer's
    adoption rate goes to the health engine as the ``adoption_rate`` signal. Unknown customers or
    features and a triple given twice are per-item errors.
    """
    today, now = aggregates.today_utc(), timezone.now()
    features = Feature.objects.in_bulk({item.feature_id for item in items})
    customers = locked_by_key(Customer, {item.customer_id for item in items})
    results: dict[int, UsageResult] = {}
    valid: list[UsageInput] = []
    seen: set[tuple[str, str, date]] = set()
    for item in items:
        triple = (item.customer_id, item.feature_id, item.date)
        if item.customer_id not in customers:
            results[item.index] = _error(item, "customer_id", "not_found", "No such customer.")
        elif item.feature_id not in features:
            results[item.index] = _error(item, "feature_id", "not_found", "No such feature.")
        elif triple in seen:
            results[item.index] = _error(
                item, "date", "duplicate", "This customer, feature and day appear twice in the request."
            )
        else:
            seen.add(triple)
            valid.append(item)
    if not valid:
        return [results[index] for index in sorted(results)]

    touched = sorted({item.customer_id for item in valid})
    sync = aggregates.profiles_sync(
        customer_ids=touched, facts={cid: aggregates.facts_of(customers[cid]) for cid in touched}, now=now
    )
    existing = set(
        FeatureUsage.objects.filter(
            customer_id__in=touched,
            feature_id__in={item.feature_id for item in valid},
            date__in={item.date for item in valid},
        ).values_list("customer_id", "feature_id", "date")
    )
    aggregates.insert_rows(
        FeatureUsage,
        ("customer", "feature", "date", "count", "created_at", "updated_at"),
        sorted((item.customer_id, item.feature_id, item.date, item.count, now, now) for item in valid),
        conflict=("customer", "feature", "date"),
        on_conflict="replace",
        update=("count", "updated_at"),
    )
    applied = aggregates.adoption_apply(
        pairs={(item.customer_id, item.feature_id) for item in valid}, counted=sync.counted, today=today
    )
    messages = []
    for change in applied.changes:
        feature = features[change.feature_id]
        if adoption.adopted_in_window(
            change.after, today, feature.window_days
        ) and not adoption.adopted_in_window(change.before, today, feature.window_days):
            messages.append(
                EventMessage(
                    events.FEATURE_ADOPTED.name,
                    change.customer_id,
                    {
                        "feature_id": feature.feature_id,
                        "adoption_threshold": feature.adoption_threshold,
                        "window_days": feature.window_days,
                        "adopted_from": change.after,
                    },
                )
            )
    rates = _adoption_rates(customer_ids=touched, today=today)
    _send_adoption_rates(rates, now)
    # The health engine may have moved their scores: count them with their new health.
    aggregates.profiles_sync(customer_ids=touched, now=now)
    publish_many(messages)

    for item in valid:
        feature = features[item.feature_id]
        results[item.index] = UsageResult(
            item.index,
            REPLACED if (item.customer_id, item.feature_id, item.date) in existing else CREATED,
            item.customer_id,
            item.feature_id,
            item.date,
            item.count,
            adopted=adoption.adopted_in_window(
                applied.adopted_from.get((item.customer_id, item.feature_id)), today, feature.window_days
            ),
            adoption_rate=rates.get(item.customer_id),
        )
    return [results[index] for index in sorted(results)]


def adoption_rates_refresh(
    *, customer_ids: Sequence[str] | None = None, chunk_size: int | None = None
) -> int:
    """Send the adoption rate of ``customer_ids`` (default: every customer with recorded adoption) to the
    health engine, a chunk per transaction, only where it differs from the customer's stored rate.
    Returns how many were sent."""
    size = chunk_size or conf.PRODUCT_SYNC_CHUNK_SIZE
    today, now = aggregates.today_utc(), timezone.now()
    if customer_ids is None:
        ids = sorted(set(FeatureAdoption.objects.values_list("customer_id", flat=True).distinct()))
    else:
        ids = sorted(set(customer_ids))
    sent = 0
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        with transaction.atomic():
            rates = _adoption_rates(customer_ids=chunk, today=today)
            stored = dict(Customer.objects.filter(pk__in=chunk).values_list("customer_id", "adoption_rate"))
            changed = {cid: rate for cid, rate in rates.items() if cid in stored and stored[cid] != rate}
            _send_adoption_rates(changed, now)
            aggregates.profiles_sync(customer_ids=list(changed), now=now)
        sent += len(changed)
    return sent


def lapsed_adoption_rates_refresh(*, today: date | None = None) -> int:
    """The nightly refresh of adoption rates whose adoption fell out of its window in the last
    PRODUCT_LAPSE_LOOKBACK_DAYS days (time passing changes a rate without any write)."""
    today = today or aggregates.today_utc()
    lapsed = Q()
    for feature in selectors.active_features():
        start = adoption.window_start(today, feature.window_days)
        earliest = adoption.window_start(start, conf.PRODUCT_LAPSE_LOOKBACK_DAYS + 1)
        lapsed |= Q(feature_id=feature.feature_id, adopted_from__lt=start, adopted_from__gte=earliest)
    if not lapsed:
        return 0
    ids = list(FeatureAdoption.objects.filter(lapsed).values_list("customer_id", flat=True).distinct())
    return adoption_rates_refresh(customer_ids=ids)


@transaction.atomic
def adoption_snapshots_take(*, today: date | None = None) -> int:
    """Record today's adoption of every feature by segment, under its own window (idempotent)."""
    today = today or aggregates.today_utc()
    written = 0
    for feature in selectors.feature_list():
        population, adopters = selectors.adoption_sums(
            feature=feature, window_days=feature.window_days, today=today
        )
        written += _snapshot_rows(
            feature, today, population, adopters, feature.window_days, feature.adoption_threshold
        )
    return written


def _snapshot_rows(feature, day, population, adopters, window_days, threshold) -> int:
    rows = []
    for segment in adoption.SEGMENTS:
        live = population.get((segment, False), adoption.PopulationSums())
        adopted = adopters.get((segment, False), adoption.AdopterSums())
        rows.append(
            AdoptionSnapshot(
                feature=feature,
                day=day,
                segment=segment,
                window_days=window_days,
                adoption_threshold=threshold,
                customers=live.customers,
                adopters=adopted.adopters,
            )
        )
    AdoptionSnapshot.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["feature", "day", "segment"],
        update_fields=["window_days", "adoption_threshold", "customers", "adopters"],
    )
    return len(rows)


def adoption_snapshot_from_usage(*, feature: Feature, day: date) -> int:
    """Record the adoption of ``feature`` as of a past ``day`` from the usage up to that day (the
    demo's history; the nightly job records the present from the aggregates)."""
    population, adopters = selectors.adoption_sums_from_usage(
        feature=feature, window_days=feature.window_days, today=day, until=day
    )
    return _snapshot_rows(feature, day, population, adopters, feature.window_days, feature.adoption_threshold)


# --- Feedback --------------------------------------------------------------------------------------


class TransitionRefused(Exception):
    def __init__(self, current: str, requested: str, allowed: list[str]) -> None:
        super().__init__(f"{current} → {requested}")
        self.current, self.requested, self.allowed = current, requested, allowed


class CommitmentRefused(Exception):
    """A committed release in a status that holds none, or planning without one."""

    def __init__(self, message: str, *, required: bool = False) -> None:
        super().__init__(message)
        self.required = required


def feedback_priority(
    *, customer: Customer, priority_level: str, business_impact: str
) -> priority.PriorityScore:
    return priority.priority_score(
        priority=priority_level,
        business_impact=business_impact,
        arr=customer.arr,
        health_score=customer.health_score,
        weights=conf.PRODUCT_FEEDBACK_WEIGHTS,
        arr_cap=conf.PRODUCT_FEEDBACK_ARR_CAP,
    )


def _priority_inputs(score: priority.PriorityScore, customer: Customer) -> dict[str, Any]:
    arr = Decimal(str(customer.arr))
    arr_value = int(arr) if arr == arr.to_integral_value() else float(arr)
    return score.as_inputs(arr=arr_value, health_score=customer.health_score)


def _status_message(feedback: Feedback, from_status: str) -> EventMessage:
    return EventMessage(
        events.FEEDBACK_STATUS_CHANGED.name,
        feedback.customer_id,
        {
            "feedback_id": feedback.feedback_id,
            "from_status": from_status,
            "to_status": feedback.status,
            "committed_release": feedback.committed_release,
            "committed_by": feedback.committed_by,
            "priority_score": feedback.priority_score,
        },
    )


@transaction.atomic
def feedback_submit(*, customer: Customer, data: dict[str, Any], submitted_by: str) -> Feedback:
    """Record a customer's feedback with its priority score; publishes ``feedback_submitted`` (without the
    description, which is stored encrypted)."""
    score = feedback_priority(
        customer=customer, priority_level=data["priority"], business_impact=data["business_impact"]
    )
    now = timezone.now()
    feedback = Feedback.objects.create(
        customer=customer,
        type=data["type"],
        category=data["category"],
        priority=data["priority"],
        business_impact=data["business_impact"],
        description=data["description"],
        success_context=data.get("success_context") or {},
        priority_score=score.score,
        priority_inputs=_priority_inputs(score, customer),
        submitted_by=submitted_by,
        status_changed_at=now,
    )
    FeedbackTransition.objects.create(
        feedback=feedback, from_status="", to_status=feedback.status, changed_by=submitted_by, at=now
    )
    publish_many(
        [
            EventMessage(
                events.FEEDBACK_SUBMITTED.name,
                customer.customer_id,
                {
                    "feedback_id": feedback.feedback_id,
                    "type": feedback.type,
                    "category": feedback.category,
                    "priority": feedback.priority,
                    "business_impact": feedback.business_impact,
                    "priority_score": feedback.priority_score,
                    "status": feedback.status,
                },
            )
        ]
    )
    return feedback


_UNSET = object()


@transaction.atomic
def feedback_update(
    *, feedback: Feedback, actor: str, status: str | None = None, committed_release: Any = _UNSET
) -> Feedback:
    """Move a feedback's status through its workflow and/or set its committed release.

    - ``planned`` needs a committed release (sent now or kept from before);
    - a committed release is kept only while ``planned``, ``in_progress`` or ``delivered`` (the release it
      shipped in); moving back to ``under_review`` or to ``declined`` withdraws it;
    - whoever sets the release is its ``committed_by`` (the client id or the staff user).

    Publishes ``feedback_status_changed`` when the status moves, else ``feedback_commitment_changed``
    when only the release changed. Raises ``TransitionRefused`` (with the allowed statuses) or
    ``CommitmentRefused``.
    """
    locked = Feedback.objects.select_for_update().get(pk=feedback.pk)
    from_status, release_before = locked.status, locked.committed_release
    target = status if status is not None else from_status
    moving = target != from_status
    if moving:
        move = locked.transition_to(target)
        if move is None:
            raise TransitionRefused(from_status, target, locked.allowed_statuses())
    release = release_before if committed_release is _UNSET else (committed_release or "")
    if committed_release is not _UNSET and committed_release and target not in COMMITTED_STATUSES:
        raise CommitmentRefused(
            f"A committed release is kept only while the feedback is planned, in progress or delivered, "
            f"not {target}."
        )
    if target == FeedbackStatus.PLANNED and not release:
        raise CommitmentRefused(
            "Planning a feedback commits it to a release: send committed_release.", required=True
        )
    if target not in COMMITTED_STATUSES:
        release = ""

    now = timezone.now()
    if moving:
        move()
        locked.status_changed_at = now
    release_changed = release != release_before
    if release_changed:
        locked.committed_release = release
        locked.committed_by = actor if release else ""
        locked.committed_at = now if release else None
    if not moving and not release_changed:
        return locked
    locked.save()
    message = (
        _status_message(locked, from_status)
        if moving
        else EventMessage(
            events.FEEDBACK_COMMITMENT_CHANGED.name,
            locked.customer_id,
            {
                "feedback_id": locked.feedback_id,
                "status": locked.status,
                "previous_release": release_before,
                "committed_release": locked.committed_release,
                "committed_by": locked.committed_by,
            },
        )
    )
    [event] = publish_many([message])
    FeedbackTransition.objects.create(
        feedback=locked,
        from_status=from_status,
        to_status=locked.status,
        committed_release=locked.committed_release,
        changed_by=actor,
        event_id=event.event_id,
        at=now,
    )
    return locked


def feedback_priorities_refresh(*, chunk_size: int = 500) -> int:
    """Recompute the priority score of every open feedback from its customer's current ARR and health
    (nightly): the ranking follows the accounts as they change. Returns how many moved."""
    moved, last = 0, ""
    while True:
        with transaction.atomic():
            chunk = list(
                Feedback.objects.select_for_update(of=("self",))
                .select_related("customer")
                .filter(status__in=OPEN_STATUSES, feedback_id__gt=last)
                .order_by("feedback_id")[:chunk_size]
            )
            if not chunk:
                return moved
            dirty = []
            for feedback in chunk:
                score = feedback_priority(
                    customer=feedback.customer,
                    priority_level=feedback.priority,
                    business_impact=feedback.business_impact,
                )
                if score.score != feedback.priority_score:
                    feedback.priority_score = score.score
                    feedback.priority_inputs = _priority_inputs(score, feedback.customer)
                    dirty.append(feedback)
            Feedback.objects.bulk_update(dirty, ["priority_score", "priority_inputs"])
            moved += len(dirty)
            last = chunk[-1].feedback_id
