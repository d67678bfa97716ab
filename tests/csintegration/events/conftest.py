"""Fixtures of the event tests: the real Celery worker (tests/celery_support.py) and recording subscribers."""

import threading

import pytest

from csintegration.events import registry, subscribe
from csintegration.events.registry import unsubscribe
from tests.celery_support import celery_test_app, celery_worker  # noqa: F401  (fixtures)


@pytest.fixture(autouse=True)
def only_test_subscribers():
    """The machinery is tested on its own: the apps' subscribers (webhooks, …) are set aside."""
    with registry._lock:
        saved = dict(registry._subscribers)
        registry._subscribers.clear()
    yield
    with registry._lock:
        registry._subscribers.clear()
        registry._subscribers.update(saved)


class RecordingSubscriber:
    """A subscriber that records the events it handled, and fails the first ``fail_times`` calls."""

    def __init__(self, name: str, *, event_types=("*",), fail_times: int = 0, inline: bool = False) -> None:
        self.name = name
        self.fail_times = fail_times
        self.calls: list[str] = []
        self._lock = threading.Lock()
        subscribe(name, self, event_types=event_types, inline=inline)

    def __call__(self, event) -> None:
        with self._lock:
            self.calls.append(event.event_id)
            if self.fail_times > 0:
                self.fail_times -= 1
                raise ConnectionError(f"{self.name} is unavailable")

    def calls_for(self, event_id: str) -> int:
        with self._lock:
            return self.calls.count(event_id)


@pytest.fixture
def recording_subscriber():
    """``recording_subscriber("name", event_types=…, fail_times=…)``; unsubscribed after the test."""
    created = []

    def _make(name: str = "test.recorder", **kwargs) -> RecordingSubscriber:
        subscriber = RecordingSubscriber(name, **kwargs)
        created.append(subscriber)
        return subscriber

    yield _make
    for subscriber in created:
        unsubscribe(subscriber.name)
