"""App config of observability: Prometheus metrics, structured logs, and their Celery signals."""

from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "csintegration.observability"
    label = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from . import tasks_signals  # noqa: F401  (connects the Celery signals)
