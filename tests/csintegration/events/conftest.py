"""Fixtures of the event tests: the real Celery worker (tests/celery_support.py) and recording subscribers."""

import threading

import pytest

from csintegration.events import subscribe
from csintegration.events.registry import unsubscribe
from tests.celery_support import celery_test_app, celery_worker  # noqa: F401  (fixtures)


class RecordingSubscriber:
    """A subscriber that records the events it handled, and fails the first ``fail_times`` calls."""

    def __init__(self, name: str, *, event_types=("*",), fail_times: int = 0) -> None:
        self.name = name
        self.fail_times = fail_times
        self.calls: list[str] = []
        self._lock = threading.Lock()
        subscribe(name, self, event_types=event_types)

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
