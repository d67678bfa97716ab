"""The Celery application: configured from Django settings (CELERY_* names), tasks autodiscovered."""

import os

from celery import Celery
from celery.signals import setup_logging, task_postrun, task_prerun, worker_init, worker_process_init
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csintegration.settings")

# redis:// and rediss:// brokers use kombu's Redis transport with one client per channel
# (csintegration/broker.py), whatever URL the app is pointed at.
TRANSPORT_ALIASES.update(redis="csintegration.broker:Transport", rediss="csintegration.broker:Transport")

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


@worker_init.connect
@worker_process_init.connect
def _tune_the_garbage_collector(**kwargs) -> None:
    """Once the worker (and each forked pool process) has loaded the application: csintegration/runtime.py."""
    from csintegration.runtime import tune_garbage_collector

    tune_garbage_collector()


@task_prerun.connect
@task_postrun.connect
def _keep_usable_database_connections(sender=None, **kwargs) -> None:
    """A worker keeps its database connections between tasks, as a web process keeps them between
    requests: at each task's start and end Django closes the ones that are broken, in error or older
    than ``CONN_MAX_AGE``, and ``CONN_HEALTH_CHECKS`` checks a kept one before the task's first query,
    so a connection that PostgreSQL dropped meanwhile is reopened instead of failing the task.

    Celery's own Django fixup would close every connection after every task (a new PostgreSQL backend
    per task); ``CELERY_DB_REUSE_MAX`` makes it recycle them only after that many tasks. An eager task
    (run inside the caller's request or transaction) leaves the caller's connection alone."""
    if sender is None or getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections, connections

    if any(connection.in_atomic_block for connection in connections.all(initialized_only=True)):
        return
    close_old_connections()
