"""Domain events: the outbox rows that ``publish()`` writes and the receipts of their fan-out."""

from django.db import models
from django.db.models import Q

from csintegration.ids import new_id


def new_event_id() -> str:
    return new_id("evt")


class Event(models.Model):
    """One domain event, written in the same transaction as the change it reports (the outbox)."""

    event_id = models.CharField(primary_key=True, max_length=64, default=new_event_id, editable=False)
    #: a registered type (``csintegration.events.types``); checked when the event is published
    event_type = models.CharField(max_length=64)
    # A plain id, not a foreign key: the platform machinery knows nothing of the domains, and the log
    # keeps the events of a customer after the customer is deleted.
    customer_id = models.CharField(max_length=64, null=True, blank=True)
    #: the body delivered to subscribers and webhooks: {"event", "customer_id", …, "timestamp"}
    payload = models.JSONField()
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    #: set once every subscriber has handled the event
    dispatched_at = models.DateTimeField(null=True, blank=True)
    #: fan-out runs so far (each run calls the subscribers not yet done)
    dispatch_attempts = models.PositiveIntegerField(default=0)
    #: times the sweeper or an operator re-enqueued the fan-out
    enqueue_count = models.PositiveIntegerField(default=0)
    #: when the sweeper may next re-enqueue an undispatched event; null once it gave up or is done
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    #: True while the inline subscribers of a new event run, in the transaction that wrote it: no subscriber
    #: can have handled it before, so one may skip its read of what it already did (not stored)
    fresh = False

    class Meta:
        ordering = ("-occurred_at", "-event_id")
        # Every published event writes each of these, so each is one some query needs: the log's order (which
        # also serves a range of ``occurred_at``), a customer's events, a type (without the text-pattern
        # twin a ``db_index`` adds: no query matches a type by prefix) and the sweeper's backlog.
        indexes = (
            models.Index(fields=("-occurred_at", "-event_id"), name="events_log_order_idx"),
            models.Index(fields=("customer_id", "-occurred_at"), name="events_customer_idx"),
            models.Index(fields=("event_type",), name="events_type_idx"),
            models.Index(
                fields=("next_attempt_at",),
                name="events_undispatched_idx",
                condition=Q(dispatched_at__isnull=True),
            ),
        )

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"

    def body(self) -> dict:
        """The delivered body in the seed's order: event, customer_id, the payload's own keys, timestamp.

        (PostgreSQL's jsonb does not keep key order, so it is restored here.)
        """
        head = {"event": self.payload.get("event"), "customer_id": self.payload.get("customer_id")}
        rest = {key: value for key, value in self.payload.items() if key not in (*head, "timestamp")}
        return {**head, **rest, "timestamp": self.payload.get("timestamp")}

    @property
    def is_dispatched(self) -> bool:
        return self.dispatched_at is not None


class EventReceipt(models.Model):
    """What one subscriber did with one event: its attempts, its last error, and when it finished."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="receipts")
    subscriber = models.CharField(max_length=100)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = (models.UniqueConstraint(fields=("event", "subscriber"), name="events_receipt_unique"),)

    def __str__(self) -> str:
        return f"{self.subscriber} ← {self.event_id}"
