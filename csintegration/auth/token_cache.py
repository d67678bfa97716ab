"""The stored access tokens and their clients, as the bearer check reads them on every API call.

With a shared cache (``REDIS_URL``) a token's row is kept in Redis and its client in process memory, so the
check costs one Redis round trip (an MGET of the token and of its client's version) instead of a database
query. Both stay exact: deleting or changing a token (revocation, expiry clean-up, refresh rotation)
deletes its entry, and saving a client bumps its version, which every process compares before it trusts
its copy. No secret leaves the database: Redis holds ids, scopes and times only.

Without a shared cache (the embedded default, one local-memory cache per process) another process could
not be told of a revocation, so every check reads the database. When Redis cannot be reached the checks
read the database too, for ``REDIS_RETRY_AFTER_SECONDS`` before Redis is tried again, so an outage costs
no request a connection timeout and no request fails.
"""

import hashlib
import logging
import threading
import time
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

TOKEN_TTL_SECONDS = 300
REDIS_RETRY_AFTER_SECONDS = 15.0
_client_copies: dict[str, tuple[str, object]] = {}
_client_copies_lock = threading.Lock()
_redis_down_until = 0.0
logger = logging.getLogger(__name__)


def enabled() -> bool:
    return bool(settings.REDIS_URL) and time.monotonic() >= _redis_down_until


def _redis_failed(exc: Exception) -> None:
    global _redis_down_until
    _redis_down_until = time.monotonic() + REDIS_RETRY_AFTER_SECONDS
    logger.warning(
        "The token cache cannot reach Redis (%s); bearer checks read the database for the next %.0f s",
        exc,
        REDIS_RETRY_AFTER_SECONDS,
    )


def token_checksum(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _token_key(checksum: str) -> str:
    return f"auth:token:{checksum}"


def _client_version_key(client_id: str) -> str:
    return f"auth:client-version:{client_id}"


def _from_database(checksum: str):
    return (
        get_access_token_model()
        .objects.select_related("application", "user")
        .filter(token_checksum=checksum)
        .first()
    )


def _client(client_id: str, version: str, pk: int):
    """This process's copy of the client, reloaded when its version moved on."""
    with _client_copies_lock:
        copy = _client_copies.get(client_id)
    if copy is not None and copy[0] == version and copy[1].pk == pk:
        return copy[1]
    client = get_application_model().objects.filter(client_id=client_id).first()
    if client is not None:
        with _client_copies_lock:
            _client_copies[client_id] = (version, client)
    return client


def access_token_for(token: str, client_id: str):
    """The stored access token (with ``application`` and ``user``) of a bearer token, or None."""
    checksum = token_checksum(token)
    if not enabled():
        return _from_database(checksum)
    try:
        return _from_cache(checksum, client_id)
    except Exception as exc:  # the rate limiter and /health report a failing cache too
        _redis_failed(exc)
        return _from_database(checksum)


def _from_cache(checksum: str, client_id: str):
    cached = cache.get_many([_token_key(checksum), _client_version_key(client_id)])
    entry = cached.get(_token_key(checksum))
    version = cached.get(_client_version_key(client_id))
    if version is None:
        version = uuid.uuid4().hex
        cache.add(_client_version_key(client_id), version, timeout=None)
        version = cache.get(_client_version_key(client_id)) or version
    if entry is None:
        stored = _from_database(checksum)
        if stored is None or stored.application is None:
            return stored
        remaining = (stored.expires - timezone.now()).total_seconds()
        if remaining > 0:
            entry = {
                "id": stored.pk,
                "scope": stored.scope,
                "expires": stored.expires.timestamp(),
                "user_id": stored.user_id,
                "client_id": stored.application.client_id,
                "application_id": stored.application_id,
            }
            cache.set(_token_key(checksum), entry, timeout=min(TOKEN_TTL_SECONDS, int(remaining) + 1))
        return stored
    if entry["client_id"] != client_id:
        return None
    client = _client(client_id, version, entry["application_id"])
    if client is None:
        return None
    model = get_access_token_model()
    access_token = model(
        id=entry["id"],
        token_checksum=checksum,
        scope=entry["scope"],
        expires=datetime.fromtimestamp(entry["expires"], tz=UTC),
        user_id=entry["user_id"],
        application=client,
    )
    access_token._state.adding = False
    return access_token


def _forget_token(sender, instance, **kwargs) -> None:
    # While Redis is unreachable nothing can be forgotten there; its entries expire within
    # TOKEN_TTL_SECONDS, and a restarted Redis (which keeps nothing on disk here) holds none.
    if settings.REDIS_URL and instance.token_checksum:
        try:
            cache.delete(_token_key(instance.token_checksum))
        except Exception as exc:
            _redis_failed(exc)


def _bump_client_version(sender, instance, **kwargs) -> None:
    if settings.REDIS_URL:
        try:
            cache.set(_client_version_key(instance.client_id), uuid.uuid4().hex, timeout=None)
        except Exception as exc:
            _redis_failed(exc)


def connect_signals() -> None:
    access_token_model, application_model = get_access_token_model(), get_application_model()
    post_save.connect(_forget_token, sender=access_token_model, dispatch_uid="token_cache_save")
    post_delete.connect(_forget_token, sender=access_token_model, dispatch_uid="token_cache_delete")
    post_save.connect(_bump_client_version, sender=application_model, dispatch_uid="client_cache_save")
    post_delete.connect(_bump_client_version, sender=application_model, dispatch_uid="client_cache_delete")
