"""App config for the shared API machinery (it owns the idempotency records)."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "csintegration.api"
    label = "api"
    verbose_name = "API machinery"

    def ready(self) -> None:
        from . import fields, schema, strict_bodies  # noqa: F401  (fields and schema register OpenAPI extensions)

        strict_bodies.install()
