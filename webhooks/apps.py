from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from csintegration.events import subscribe

        from .services import message_create_for_event

        def on_event(event) -> None:
            message_create_for_event(event=event)

        subscribe("webhooks", on_event, inline=True)
