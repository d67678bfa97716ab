"""Request signatures already accepted, so that each one is accepted only once (RFC 9421 replay refusal)."""

from django.db import models


class SeenSignature(models.Model):
    """One accepted HTTP message signature; rows older than the signature lifetime are pruned."""

    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the signature bytes")
    client_id = models.CharField(max_length=100, db_index=True)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2048)
    signed_at = models.DateTimeField(help_text="The signature's created parameter")
    seen_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "seen request signature"
        ordering = ("-seen_at",)

    def __str__(self) -> str:
        return f"{self.method} {self.path} by {self.client_id}"
