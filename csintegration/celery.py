"""The Celery application: configured from Django settings (CELERY_* names), tasks autodiscovered."""

import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csintegration.settings")

app = Celery("csintegration")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _use_the_platform_logging(**kwargs) -> None:
    """Workers and beat log through ``settings.LOGGING`` (request ids, quiet housekeeping) rather than
    the handlers Celery would install in its place; ``LOG_LEVEL`` sets the level."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
