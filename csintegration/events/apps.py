"""App config for domain events: the outbox, its fan-out to subscribers and the event log."""

from django.apps import AppConfig
from django.core import checks


class EventsConfig(AppConfig):
    name = "csintegration.events"
    label = "events"
    verbose_name = "Domain events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .checks import check_subscriptions

        checks.register(check_subscriptions, checks.Tags.models)
