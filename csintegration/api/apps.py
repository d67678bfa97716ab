"""App config for the shared API machinery (it owns the idempotency records)."""

from django.apps import AppConfig
from django.db.backends.signals import connection_created


class ApiConfig(AppConfig):
    name = "csintegration.api"
    label = "api"
    verbose_name = "API machinery"

    def ready(self) -> None:
        from csintegration.db import use_c_timestamptz_loader

        from . import fields, schema, strict_bodies  # noqa: F401  (fields and schema register OpenAPI extensions)

        strict_bodies.install()
        # Every PostgreSQL connection reads timestamps with psycopg's C loader (csintegration.db).
        connection_created.connect(use_c_timestamptz_loader, dispatch_uid="csintegration.c_timestamptz")
