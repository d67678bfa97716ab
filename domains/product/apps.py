"""App config of the product domain."""

from django.apps import AppConfig


class ProductConfig(AppConfig):
    name = "domains.product"
    label = "product"
    verbose_name = "Product"
