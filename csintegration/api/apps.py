"""App config for the shared API machinery (it owns the idempotency records)."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "csintegration.api"
    label = "api"
    verbose_name = "API machinery"

    def ready(self) -> None:
        from . import schema  # noqa: F401  (registers the OpenAPI extensions)
