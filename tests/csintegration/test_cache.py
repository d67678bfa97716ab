"""The Redis cache backend keeps one redis-py client per pool and still behaves as Django's (a dead server
is tested through the health endpoint in test_rate_limits)."""

import threading

import pytest
from django.core.cache import caches

from tests.conftest import HAS_REDIS

pytestmark = pytest.mark.skipif(not HAS_REDIS, reason="needs REDIS_URL")


def test_one_client_serves_every_call_and_thread(settings):
    cache = caches["default"]
    assert type(cache).__module__ == "csintegration.cache"
    client = cache._cache.get_client()
    assert cache._cache.get_client(write=True) is client
    cache.set("cache-test:a", {"n": 1}, 30)
    assert cache.get_many(["cache-test:a", "cache-test:missing"]) == {"cache-test:a": {"n": 1}}

    seen = []

    def work(index):
        cache.set(f"cache-test:{index}", index, 30)
        seen.append(cache.get(f"cache-test:{index}"))

    threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(8))
    cache.delete_many(["cache-test:a", *(f"cache-test:{index}" for index in range(8))])
