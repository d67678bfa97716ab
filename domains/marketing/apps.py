"""App config of the marketing domain."""

from django.apps import AppConfig


class MarketingConfig(AppConfig):
    name = "domains.marketing"
    label = "marketing"
    verbose_name = "Marketing"
