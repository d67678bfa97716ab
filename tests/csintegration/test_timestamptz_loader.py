"""Timestamps are read with psycopg's C loader on PostgreSQL (``csintegration.db.use_c_timestamptz_loader``):
the same aware values in UTC as Django's own loader gives, where the session's time zone is UTC."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection

from csintegration import db
from domains.customers.models import Customer

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="psycopg's loaders are PostgreSQL's"),
]

TEXTS = [
    "2026-12-06 21:50:48.319300+00",
    "1969-07-20 20:17:40+00",
    "2026-03-29 01:30:00.000001+02",  # another offset: the same instant, in UTC
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
]


def _read(texts, loader=None):
    with connection.cursor() as cursor:
        if loader is not None:
            cursor.cursor.adapters.register_loader("timestamptz", loader)
        cursor.execute(
            "SELECT v::timestamptz FROM unnest(%s::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n", [texts]
        )
        return [row[0] for row in cursor.fetchall()]


def test_a_connection_reads_timestamps_with_the_c_loader():
    from psycopg.pq import Format
    from psycopg.types.datetime import TimestamptzLoader

    connection.ensure_connection()
    assert connection.connection.adapters.get_loader(1184, Format.TEXT) is db.UtcTimestamptzLoader
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        loader = cursor.cursor._tx.get_loader(1184, Format.TEXT)
    assert not isinstance(loader, TimestamptzLoader)  # psycopg's C class, not the Python one


def test_the_values_are_what_djangos_loader_reads():
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    class DjangoUtcLoader(BaseTzLoader):
        timezone = UTC

    fast, django_own = _read(TEXTS), _read(TEXTS, DjangoUtcLoader)
    assert fast == django_own
    assert [value.tzinfo for value in fast] == [UTC] * len(TEXTS)
    assert fast[2] == datetime(2026, 3, 28, 23, 30, 0, 1, tzinfo=UTC)


def test_the_orm_reads_aware_utc_datetimes():
    moment = datetime(2026, 12, 6, 21, 50, 48, 319300, tzinfo=UTC) - timedelta(days=400)
    Customer.objects.create(customer_id="cust_tz", name="Time zone", churn_risk_alerted_at=moment)
    stored = Customer.objects.get(pk="cust_tz")
    assert stored.churn_risk_alerted_at == moment and stored.churn_risk_alerted_at.tzinfo is UTC
    assert stored.created_at.tzinfo is UTC


@pytest.mark.parametrize(
    "settings_of",
    [
        {"vendor": "postgresql", "timezone": UTC, "timezone_name": "Europe/Paris"},
        {"vendor": "postgresql", "timezone": None, "timezone_name": "UTC"},
        {"vendor": "sqlite", "timezone": UTC, "timezone_name": "UTC"},
    ],
)
def test_other_sessions_keep_djangos_loader(settings_of):
    registered = []
    raw = SimpleNamespace(adapters=SimpleNamespace(register_loader=lambda *args: registered.append(args)))
    db.use_c_timestamptz_loader(sender=None, connection=SimpleNamespace(connection=raw, **settings_of))
    assert registered == []
