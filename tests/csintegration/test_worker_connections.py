"""Celery workers keep their database connections between tasks, and drop the ones that broke."""

from types import SimpleNamespace

import pytest
from django.db import connection

from csintegration.celery import _keep_usable_database_connections

WORKER_TASK = SimpleNamespace(request=SimpleNamespace(is_eager=False))
EAGER_TASK = SimpleNamespace(request=SimpleNamespace(is_eager=True))


@pytest.mark.django_db(transaction=True)
def test_a_connection_that_broke_between_tasks_is_closed_and_the_next_query_reopens_it():
    connection.ensure_connection()
    connection.connection.close()  # e.g. PostgreSQL terminated the backend while the worker was idle
    connection.errors_occurred = True
    _keep_usable_database_connections(sender=WORKER_TASK)
    assert connection.connection is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@pytest.mark.django_db(transaction=True)
def test_a_healthy_connection_is_kept_for_the_next_task():
    if not connection.settings_dict.get("CONN_MAX_AGE"):
        pytest.skip("connections are kept only where CONN_MAX_AGE is set (PostgreSQL)")
    connection.ensure_connection()
    kept = connection.connection
    _keep_usable_database_connections(sender=WORKER_TASK)
    assert connection.connection is kept


@pytest.mark.django_db
def test_an_eager_task_or_an_open_transaction_keeps_the_callers_connection():
    connection.ensure_connection()
    kept = connection.connection
    _keep_usable_database_connections(sender=EAGER_TASK)
    _keep_usable_database_connections(sender=WORKER_TASK)  # inside the test's transaction
    assert connection.connection is kept
