"""What keeps client authentication (``/o/token/``, ``/o/revoke_token/``, ``/o/introspect/``) from
being turned against the platform.

Client secrets are stored as PBKDF2 hashes (1,000,000 iterations, about 0.25 s of CPU per check), the
right cost against a stolen table but a lever for anyone who sends wrong secrets in a loop. So:

- **Failures are throttled** per client id (``OAUTH_FAILED_AUTH_PER_CLIENT``, 10/minute) and per
  source address (``OAUTH_FAILED_AUTH_PER_ADDRESS``, 30/minute) in the shared rate limiter (Redis when
  ``REDIS_URL``, process memory otherwise): over either, the answer is 429 with ``Retry-After`` before
  any hash is computed, the right secret included, until the window has room again.
- **A repeated wrong secret costs nothing**: a failed (client, stored hash, presented secret) triple is
  remembered (as a SHA-256 digest) for ``FAILED_SECRET_TTL_SECONDS`` and refused without hashing; a
  rotated secret changes the stored hash, so the memory cannot refuse a new secret.
- **Hashing has a bounded share of the CPU**: at most ``OAUTH_SECRET_CHECKS_AT_ONCE`` (2) checks run
  at once per process; a check that cannot start within ``OAUTH_SECRET_CHECK_WAIT_SECONDS`` (0.2) is
  refused with 503 ``temporarily_unavailable`` and ``Retry-After: 1``, which frees its thread at once.
"""

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from csintegration.api.ratelimit import limiter, quota_item

logger = logging.getLogger(__name__)

FAILED_SECRET_TTL_SECONDS = 600
_FAILED_SECRET_PREFIX = "csi-oauth-failed-secret:"


class ClientAuthenticationThrottled(OAuth2Error):
    """RFC 6749 §5.2 names no error for this; RFC 6585's 429 with an OAuth-style body says it plainly."""

    error = "slow_down"
    status_code = 429

    def __init__(self, retry_after: int, **kwargs) -> None:
        self.retry_after = retry_after
        super().__init__(
            description=f"Too many failed client authentications; retry in {retry_after} s.", **kwargs
        )

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class SecretChecksBusy(OAuth2Error):
    error = "temporarily_unavailable"
    status_code = 503
    description = "The server is checking too many client secrets at once; retry shortly."

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class _SecretCheckSlots:
    """A semaphore sized from the settings when first used (tests change them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._size: int | None = None
        self._semaphore: threading.BoundedSemaphore | None = None

    def semaphore(self) -> threading.BoundedSemaphore:
        size = max(int(settings.OAUTH_SECRET_CHECKS_AT_ONCE), 1)
        with self._lock:
            if self._semaphore is None or size != self._size:
                self._semaphore, self._size = threading.BoundedSemaphore(size), size
            return self._semaphore


slots = _SecretCheckSlots()


def _failure_windows(client_id: str, address: str):
    return (
        (quota_item(settings.OAUTH_FAILED_AUTH_PER_CLIENT), ("oauth-failed-client", client_id)),
        (quota_item(settings.OAUTH_FAILED_AUTH_PER_ADDRESS), ("oauth-failed-address", address)),
    )


def _refuse_if_throttled(client_id: str, address: str) -> None:
    for item, identifiers in _failure_windows(client_id, address):
        admitted, reset_time = limiter.test(item, *identifiers)
        if not admitted:
            raise ClientAuthenticationThrottled(max(math.ceil(reset_time - time.time()), 1))


def _record_failure(client_id: str, address: str) -> None:
    for item, identifiers in _failure_windows(client_id, address):
        limiter.hit(item, *identifiers)


def _failed_secret_key(client_id: str, stored: str, provided: str) -> str:
    digest = hashlib.sha256("\0".join((client_id, stored, provided)).encode()).hexdigest()
    return _FAILED_SECRET_PREFIX + digest


def _cache_get(key: str) -> bool:
    try:
        return bool(cache.get(key))
    except Exception:  # a failing cache must not fail authentication; /health reports it
        return False


def _cache_set(key: str) -> None:
    try:
        cache.set(key, 1, timeout=FAILED_SECRET_TTL_SECONDS)
    except Exception:  # the next try with this secret is hashed again, nothing worse
        logger.debug("Could not remember a failed client secret", exc_info=True)


def check_client_secret(
    *, client_id: str, address: str, provided: str, stored: str, check: Callable[[str, str], bool]
) -> bool:
    """``check(provided, stored)`` behind the throttles, the memory of failures and the CPU bound."""
    _refuse_if_throttled(client_id, address)
    key = _failed_secret_key(client_id, stored, provided)
    if _cache_get(key):
        _record_failure(client_id, address)
        return False
    semaphore = slots.semaphore()
    if not semaphore.acquire(timeout=float(settings.OAUTH_SECRET_CHECK_WAIT_SECONDS)):
        raise SecretChecksBusy()
    try:
        valid = check(provided, stored)
    finally:
        semaphore.release()
    if not valid:
        _record_failure(client_id, address)
        _cache_set(key)
    return valid
