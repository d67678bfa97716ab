from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "csintegration.clients"
    label = "clients"
    verbose_name = "Integration clients"
