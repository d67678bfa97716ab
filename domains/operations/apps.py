"""App config of the operations domain."""

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "domains.operations"
    label = "operations"
    verbose_name = "Operations"
