from django.apps import AppConfig


class EncryptionConfig(AppConfig):
    name = "csintegration.encryption"
    label = "encryption"
    verbose_name = "Encryption at rest"

    def ready(self) -> None:
        # A malformed FIELD_ENCRYPTION_KEYS stops start-up here, not at the first encrypted read.
        from .keys import key_ring

        key_ring()
