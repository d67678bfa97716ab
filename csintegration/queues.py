"""How many messages wait in each Celery queue of the broker (for recovery decisions and metrics)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

logger = logging.getLogger(__name__)

#: every queue the platform's workers consume
QUEUES = ("critical", "webhooks", "default", "bulk")


def queue_depths(names: Iterable[str] = QUEUES) -> dict[str, int | None]:
    """Messages ready in each queue (not those a worker has reserved); None where the broker did not
    answer."""
    from csintegration.celery import app

    names = list(names)
    depths: dict[str, int | None] = dict.fromkeys(names)
    url = app.conf.broker_url or ""
    if url.startswith(("redis://", "rediss://")):
        return _redis_depths(url, app.conf.broker_transport_options or {}, names)
    try:
        with app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, timeout=1)
            channel = connection.default_channel
            for name in names:
                try:
                    depths[name] = channel.queue_declare(queue=name, passive=True).message_count
                except Exception:  # a queue nothing was ever sent to
                    depths[name] = 0
    except Exception as exc:
        logger.info("Could not read the queue depths: %s", exc)
    return depths


def queue_depth(name: str) -> int | None:
    return queue_depths([name])[name]


#: kombu keeps a Redis queue's messages of priority p > 0 in "<queue>\x06\x16<p>"
_REDIS_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def _redis_depths(url: str, options: dict, names: list[str]) -> dict[str, int | None]:
    import redis

    prefix = options.get("global_keyprefix", "")
    depths: dict[str, int | None] = dict.fromkeys(names)
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1) as client:
            pipe = client.pipeline()
            for name in names:
                for suffix in _REDIS_PRIORITY_SUFFIXES:
                    pipe.llen(f"{prefix}{name}{suffix}")
            lengths = pipe.execute()
    except Exception as exc:
        logger.info("Could not read the queue depths: %s", exc)
        return depths
    step = len(_REDIS_PRIORITY_SUFFIXES)
    for index, name in enumerate(names):
        depths[name] = sum(lengths[index * step : (index + 1) * step])
    return depths
