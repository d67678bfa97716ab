"""Celery workers record a heartbeat when they start and periodically, for the health check."""

import socket

from django.utils import timezone

from .models import WorkerHeartbeat


def record_worker_heartbeat(hostname: str | None = None) -> None:
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname or socket.gethostname(), defaults={"seen_at": timezone.now()}
    )
