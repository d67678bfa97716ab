from django.apps import AppConfig


class PlatformAuthConfig(AppConfig):
    name = "csintegration.auth"
    label = "platform_auth"
    verbose_name = "API authentication"

    def ready(self) -> None:
        from . import token_cache

        token_cache.connect_signals()
