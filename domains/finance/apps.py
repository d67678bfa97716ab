"""App config of the finance domain."""

from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "domains.finance"
    label = "finance"
    verbose_name = "Finance"
