"""The Redis broker transport (csintegration/broker.py) publishes through one Redis client per channel
and connection pool, where kombu's builds one per message; messages still reach their queue. A broker that
does not answer costs a warning."""

import pytest
import redis
from django.conf import settings

from csintegration.broker import Transport
from csintegration.celery import app
from csintegration.tasks import enqueue_many
from tests.celery_support import use_broker
from tests.conftest import HAS_REDIS

pytestmark = pytest.mark.skipif(not HAS_REDIS, reason="needs REDIS_URL")

QUEUE = "broker-test"


@pytest.fixture
def broker():
    previous = (app.conf.broker_url, dict(app.conf.broker_transport_options or {}))
    use_broker(settings.CELERY_BROKER_URL)
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(QUEUE)
    yield client
    client.delete(QUEUE)
    use_broker(*previous)


def test_the_platform_transport_carries_the_broker(broker):
    with app.connection_for_write() as connection:
        assert type(connection.transport) is Transport


def test_messages_reach_their_queue_through_one_client(broker, monkeypatch):
    built = []
    declared = redis.Redis.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        declared(self, *args, **kwargs)

    enqueue_many("events.dispatch_events", args_list=[(["evt_warm"],)], queue=QUEUE)  # declares the queue
    monkeypatch.setattr(redis.Redis, "__init__", counting)
    for _ in range(5):
        assert (
            enqueue_many("events.dispatch_events", args_list=[(["evt_a"],), (["evt_b"],)], queue=QUEUE) == 2
        )
    assert broker.llen(QUEUE) == 11
    assert len(built) <= 1  # kombu's own channel: one per message, 10


def test_a_new_pool_gets_a_client_of_its_own(broker):
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as again:
            assert first is again and first.connection_pool is channel.pool
        channel._pool = None  # as after a fork or a reconnection
        with channel.conn_or_acquire() as renewed:
            assert renewed is not first and renewed.connection_pool is channel.pool
            renewed.lpush(QUEUE, "probe")
    assert broker.llen(QUEUE) == 1


def test_a_broker_that_does_not_answer_costs_a_warning_not_an_error(broker, caplog):
    use_broker("redis://127.0.0.1:9/0")  # nothing listens there
    assert enqueue_many("events.dispatch_events", args_list=[(["evt_a"],), (["evt_b"],)], queue=QUEUE) == 0
    assert "Could not enqueue events.dispatch_events" in caplog.text
