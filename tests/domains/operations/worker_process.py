"""A Celery worker process for the killed-worker test: the project's own app and tasks, on the services
run's Redis under a key prefix of its own (``sys.argv[1]``), so that it shares no queue with anyone."""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csintegration.settings")

import django

django.setup()

from csintegration.celery import app  # noqa: E402

options = {"visibility_timeout": 3600, "global_keyprefix": sys.argv[1]}
# Django's CELERY_* settings are read before a plain change: set both names.
app.conf.broker_transport_options = app.conf.CELERY_BROKER_TRANSPORT_OPTIONS = options
app.worker_main(
    [
        "worker",
        "--pool",
        "solo",
        "--queues",
        "critical,default",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel",
        "WARNING",
    ]
)
