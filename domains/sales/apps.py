"""App config of the sales domain."""

from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "domains.sales"
    label = "sales"
    verbose_name = "Sales"
