"""A real Celery worker for the tests, in a thread of the test process, on the run's real broker.

The services run (``REDIS_URL`` set) uses Redis, under a key prefix of its own per test process; the
embedded run uses kombu's in-memory broker. Use it from any test folder:

    from tests.celery_support import celery_test_app, celery_worker, wait_until  # noqa: F401

    @pytest.mark.worker
    @pytest.mark.django_db(transaction=True)
    def test_delivery(celery_worker):
        ...
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.db import connections

from csintegration.celery import app as celery_app

#: every queue the platform uses; the test worker consumes them all
QUEUES = ("critical", "webhooks", "default", "bulk")


def broker_for_tests() -> tuple[str, dict]:
    """The broker URL and transport options of the test run."""
    if settings.REDIS_URL:
        prefix = f"pytest-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}:"
        return settings.REDIS_URL, {"visibility_timeout": 3600, "global_keyprefix": prefix}
    # Poll often: an idle virtual transport sleeps polling_interval between looks (1 s by default).
    return "memory://", {"polling_interval": 0.02}


def conf_set(app, **values) -> None:
    """Change the app's settings at run time. The app reads Django's ``CELERY_*`` settings first, so a
    change is made under that name too (a plain ``app.conf.x = …`` would be shadowed by them)."""
    for key, value in values.items():
        app.conf[key] = value
        app.conf[f"CELERY_{key.upper()}"] = value


def use_broker(url: str, transport_options: dict | None = None, app=celery_app) -> None:
    """Point the app (producer and future workers) at another broker, dropping pooled connections."""
    conf_set(app, broker_url=url, broker_transport_options=transport_options or {})
    # Only drop the references: kombu keeps its pools per broker, and the old one may be used again.
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@contextmanager
def broker_unreachable(app=celery_app) -> Iterator[None]:
    """Within the block, publishing to the broker fails at once (nothing listens on port 1)."""
    previous = (app.conf.broker_url, dict(app.conf.broker_transport_options or {}))
    use_broker("redis://127.0.0.1:1/0", {"socket_connect_timeout": 0.5}, app)
    try:
        yield
    finally:
        use_broker(*previous, app)


def purge_queues(app=celery_app) -> int:
    removed = 0
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in QUEUES:
            removed += channel.queue_purge(queue) or 0
    return removed


@pytest.fixture(scope="session")
def celery_test_app():
    """The project's Celery app, on the test run's broker, not eager, not touching the root logger."""
    use_broker(*broker_for_tests())
    conf_set(celery_app, task_always_eager=False, worker_hijack_root_logger=False)
    return celery_app


@contextmanager
def running_worker(app=celery_app) -> Iterator:
    """A worker thread consuming every queue (solo pool, one task at a time) for the ``with`` block.

    Messages left over from earlier tests are purged first. Stopping takes up to a few seconds on the
    in-memory broker (its idle loop looks for a shutdown every 2 s).
    """
    purge_queues(app)
    with start_worker(
        app,
        pool="solo",
        concurrency=1,
        perform_ping_check=False,
        queues=list(QUEUES),
        loglevel="WARNING",
        shutdown_timeout=30,
    ) as worker:
        yield worker


@task_postrun.connect(weak=False)
def _close_worker_thread_connections(**kwargs) -> None:
    # The worker thread's database connections must not outlive its tasks: a connection left open
    # blocks dropping the PostgreSQL test database at the end of the session. (Eager runs of tasks
    # in the test's own thread keep theirs: the test may be inside a transaction.)
    if threading.current_thread() is not threading.main_thread():
        connections.close_all()


def queued_messages(app=celery_app) -> dict[str, int]:
    """Messages waiting in each queue of the broker (Redis lists, or the in-memory queues)."""
    url, options = app.conf.broker_url, app.conf.broker_transport_options or {}
    if url.startswith("redis"):
        # Counted with a plain client: kombu's passive declare ignores the global key prefix here.
        prefix = options.get("global_keyprefix", "")
        with redis.Redis.from_url(url) as client:
            return {queue: client.llen(prefix + queue) for queue in QUEUES}
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        return {queue: channel._size(queue) for queue in QUEUES}


@pytest.fixture
def celery_worker(transactional_db, celery_test_app) -> Iterator:
    """A real worker thread for one test. Needs ``@pytest.mark.django_db(transaction=True)``: it reads
    what the test committed.

    Each test gets its own worker (queues purged first), stopped before the database is flushed: a
    worker kept between tests would consume, in the middle of other tests, what they enqueue. Tasks
    scheduled for later that it did not run go back to the broker and are purged by the next one.
    """
    with running_worker(celery_test_app) as worker:
        yield worker


def wait_until(condition: Callable[[], object], *, timeout: float = 15.0, interval: float = 0.05):
    """Poll ``condition`` until it returns something truthy (returned), or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {condition}")
        time.sleep(interval)
