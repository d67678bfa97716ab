"""Rate limits per OAuth client and category (CONTRACT.md §4), and overload shedding.

Each view declares ``rate_limit_category`` (``standard``, ``realtime``, ``bulk`` or ``admin``); the quota
is the client's override or ``RATE_LIMIT_DEFAULTS``. Counting uses the moving-window strategy of the
``limits`` package: in Redis (one atomic Lua script per request that counts the hit and reads the
window for the headers, so no more requests are admitted than the quota whatever the parallelism)
when ``REDIS_URL`` is set, else in process memory. When Redis cannot be
reached the limiter falls back to per-process memory, logs it, and tries Redis again a little later.

Under overload a process sheds the least critical work first: ``OVERLOAD_SHED_AT`` names, per category,
how many other API requests in flight in the same process make it refuse one with 503 and
``Retry-After``; ``bulk`` gives way before ``realtime``, and the other categories are never shed.
"""

import logging
import math
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter
from rest_framework.throttling import BaseThrottle

from csintegration.observability import metrics

from .exceptions import Problem

logger = logging.getLogger(__name__)

KEY_PREFIX = "csi-ratelimit"
# After Redis failed, requests use memory for this long before Redis is tried again, so an outage
# does not cost every request a connection timeout.
REDIS_RETRY_AFTER_SECONDS = 15.0
REDIS_SOCKET_TIMEOUT_SECONDS = 0.5

# One round trip per request: take an entry in the moving window (as ``limits``' own acquire script
# does, on the same list, so its other methods read the same window) and answer the window's state
# for the headers (its oldest entry and how many it holds, as ``limits``' window script finds them).
HIT_AND_COUNT = """
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local expiry = tonumber(ARGV[3])
local admitted = 0
local entry = false
if limit >= 1 then
    entry = redis.call('lindex', KEYS[1], limit - 1)
end
if limit >= 1 and not (entry and tonumber(entry) >= now - expiry) then
    redis.call('lpush', KEYS[1], now)
    redis.call('ltrim', KEYS[1], 0, limit - 1)
    redis.call('expire', KEYS[1], expiry)
    admitted = 1
end
local low, high, found = 0, redis.call('llen', KEYS[1]) - 1, -1
while low <= high do
    local middle = math.floor((low + high) / 2)
    local value = tonumber(redis.call('lindex', KEYS[1], middle))
    if value and value >= now - expiry then
        found = middle
        low = middle + 1
    else
        high = middle - 1
    end
end
if found < 0 then
    return {admitted, false, 0}
end
return {admitted, tostring(redis.call('lindex', KEYS[1], found)), found + 1}
"""


@dataclass(frozen=True)
class RateLimitState:
    """What the headers of a response say about its client's quota in one category."""

    category: str
    quota: int
    window_seconds: int
    remaining: int
    reset_seconds: int

    def policy_header(self) -> str:
        return f'"{self.category}";q={self.quota};w={self.window_seconds}'

    def state_header(self) -> str:
        return f'"{self.category}";r={self.remaining};t={self.reset_seconds}'


class ClientRateLimiter:
    """Moving windows per (client, category), in Redis or, failing that, in this process's memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # limits' MemoryStorage keeps a lock per key but drops it when the key's events expire, so a
        # hit racing an expiry could enter twice; one lock around memory hits keeps the count exact.
        self._memory_lock = threading.Lock()
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        self._redis: MovingWindowRateLimiter | None = None
        self._redis_storage: RedisStorage | None = None
        self._hit_script = None
        self._redis_url: str | None = None
        self._redis_down_until = 0.0

    def _redis_limiter(self) -> MovingWindowRateLimiter | None:
        url = settings.REDIS_URL
        if not url:
            return None
        with self._lock:
            if url != self._redis_url:
                storage = RedisStorage(
                    url,
                    key_prefix=KEY_PREFIX,
                    wrap_exceptions=True,
                    socket_connect_timeout=REDIS_SOCKET_TIMEOUT_SECONDS,
                    socket_timeout=REDIS_SOCKET_TIMEOUT_SECONDS,
                )
                self._redis, self._redis_url, self._redis_down_until = (
                    MovingWindowRateLimiter(storage),
                    url,
                    0.0,
                )
                self._redis_storage = storage
                self._hit_script = storage.get_connection().register_script(HIT_AND_COUNT)
            if time.monotonic() < self._redis_down_until:
                return None
            return self._redis

    def _redis_failed(self, exc: Exception) -> None:
        with self._lock:
            self._redis_down_until = time.monotonic() + REDIS_RETRY_AFTER_SECONDS
        logger.error(
            "Rate limiter cannot reach Redis (%s); counting per process for the next %.0f s",
            exc,
            REDIS_RETRY_AFTER_SECONDS,
        )

    def test(self, item: RateLimitItem, *identifiers: str) -> tuple[bool, float]:
        """Whether one more request would be admitted, without counting one: (admitted, reset time)."""
        limiter = self._redis_limiter()
        if limiter is not None:
            try:
                return limiter.test(item, *identifiers), limiter.get_window_stats(
                    item, *identifiers
                ).reset_time
            except Exception as exc:  # any storage failure: keep serving on per-process counts
                self._redis_failed(exc)
        with self._memory_lock:
            return self._memory.test(item, *identifiers), self._memory.get_window_stats(
                item, *identifiers
            ).reset_time

    def hit(self, item: RateLimitItem, *identifiers: str) -> tuple[bool, int, float]:
        """Consume one request: (admitted, remaining, reset time as a Unix timestamp)."""
        limiter = self._redis_limiter()
        if limiter is not None:
            try:
                now, expiry = time.time(), item.get_expiry()
                key = self._redis_storage.prefixed_key(item.key_for(*identifiers))
                admitted, oldest, count = self._hit_script([key], [now, item.amount, expiry])
                window_start = float(oldest) if oldest else now
                return bool(admitted), max(item.amount - int(count), 0), window_start + expiry
            except Exception as exc:  # any storage failure: keep serving on per-process counts
                self._redis_failed(exc)
        with self._memory_lock:
            admitted = self._memory.hit(item, *identifiers)
            stats = self._memory.get_window_stats(item, *identifiers)
        return admitted, max(stats.remaining, 0), stats.reset_time


limiter = ClientRateLimiter()


class InFlightGauge:
    """The number of API requests this process is serving right now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    @contextmanager
    def track(self):
        with self._lock:
            self.value += 1
        try:
            yield
        finally:
            with self._lock:
                self.value -= 1


in_flight = InFlightGauge()


class InFlightMiddleware:
    """Counts the API requests in flight in this process, which overload shedding compares."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        with in_flight.track():
            return self.get_response(request)


def _window_seconds(item: RateLimitItem) -> int:
    return int(item.get_expiry())


_parsed: dict[str, RateLimitItem] = {}


def quota_item(rate: str) -> RateLimitItem:
    """The parsed form of ``"N/second|minute|hour|day"``, cached."""
    item = _parsed.get(rate)
    if item is None:
        item = _parsed[rate] = parse(rate.replace(" ", ""))
    return item


def _client_of(request):
    return getattr(getattr(request, "auth", None), "application", None)


def category_of(view) -> str:
    category = getattr(view, "rate_limit_category", None) or "standard"
    if category not in settings.RATE_LIMIT_DEFAULTS:
        raise ValueError(f"{type(view).__name__} declares an unknown rate-limit category {category!r}")
    return category


def _shed_if_overloaded(category: str) -> None:
    threshold = settings.OVERLOAD_SHED_AT.get(category)
    # The gauge counts this request too (InFlightMiddleware); the threshold is about the others.
    if threshold is not None and in_flight.value - 1 >= threshold:
        metrics.requests_shed.labels(category).inc()
        raise Problem(
            503,
            "overloaded",
            f"The platform is under heavy load and is deferring {category} requests; retry shortly.",
            title="Temporarily overloaded",
            headers={"Retry-After": str(settings.OVERLOAD_RETRY_AFTER_SECONDS)},
        )


class ClientRateThrottle(BaseThrottle):
    """DRF throttle (it runs after authentication and the scope check): one hit per request in the
    client's window for the view's category. Public views (health) are not counted."""

    def allow_request(self, request, view) -> bool:
        if getattr(view, "public", False):
            return True
        category = category_of(view)
        _shed_if_overloaded(category)
        client = _client_of(request)
        if client is None:
            return True
        item = quota_item(client.quota_for(category))
        admitted, remaining, reset_time = limiter.hit(item, client.client_id, category)
        reset_seconds = max(math.ceil(reset_time - time.time()), 0)
        # Kept on the Django request, where finalize_response and the audit log find it.
        request._request.rate_limit = RateLimitState(
            category=category,
            quota=item.amount,
            window_seconds=_window_seconds(item),
            remaining=remaining,
            reset_seconds=reset_seconds,
        )
        if admitted:
            return True
        retry_after = max(reset_seconds, 1)
        metrics.rate_limit_rejections.labels(category).inc()
        raise Problem(
            429,
            "quota-exceeded",
            f"The {category} quota of {item.amount} requests per {_window_seconds(item)} s is used up; "
            f"retry in {retry_after} s.",
            title="Quota exceeded",
            headers={"Retry-After": str(retry_after)},
            **{"violated-policies": [category]},
        )


def add_rate_limit_headers(request, response) -> None:
    """``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers) when counted."""
    state: RateLimitState | None = getattr(request, "rate_limit", None)
    if state is None:
        return
    response["RateLimit-Policy"] = state.policy_header()
    response["RateLimit"] = state.state_header()
