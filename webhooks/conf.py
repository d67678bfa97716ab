"""Tunables of outbound webhooks, read from the environment (see ``csintegration.conf``)."""

from csintegration.conf import AppSettings, Setting

conf = AppSettings(
    WEBHOOK_ALLOWED_NETWORKS=Setting(
        list,
        [],
        "CIDRs that receivers may resolve to although private/loopback (tests, on-premise receivers); "
        "plain http is admitted only for those",
    ),
    WEBHOOK_TIMEOUT_SECONDS=Setting(float, 15.0, "total deadline of one attempt: connect, send, response"),
    WEBHOOK_RETRY_SCHEDULE=Setting(
        "floats",
        [5, 300, 1800, 7200, 18000, 36000, 36000],
        "seconds to wait after each failed try before the next",
    ),
    WEBHOOK_RETRY_JITTER=Setting(float, 0.1, "± this fraction of each delay"),
    WEBHOOK_RETRY_AFTER_MAX_SECONDS=Setting(int, 86400, "the longest Retry-After honoured"),
    WEBHOOK_DISABLE_AFTER_FAILING_SECONDS=Setting(
        int, 5 * 86400, "an endpoint whose every attempt failed this long is disabled"
    ),
    WEBHOOK_SECRET_ROTATION_OVERLAP_SECONDS=Setting(
        int, 86400, "the previous secret also signs this long after a rotation"
    ),
    WEBHOOK_MAX_BODY_BYTES=Setting(int, 256 * 1024, "larger bodies are not sent (the delivery fails)"),
    WEBHOOK_QUEUE_LEASE_SECONDS=Setting(
        int, 300, "a queued delivery whose task has not started within this is queued again"
    ),
    WEBHOOK_ATTEMPT_LEASE_MARGIN_SECONDS=Setting(
        int, 15, "an attempt in flight holds its delivery for the timeout plus this"
    ),
    WEBHOOK_DISPATCH_INTERVAL_SECONDS=Setting(float, 5.0, "how often beat queues due retries"),
    WEBHOOK_DISPATCH_BATCH_SIZE=Setting(int, 500, "deliveries queued per dispatcher batch"),
    WEBHOOK_POOL_SIZE=Setting(int, 10, "connections per receiver host, and sender threads per process"),
    WEBHOOK_TASK_BATCH_SIZE=Setting(int, 10, "deliveries per attempt task, sent in parallel"),
    WEBHOOK_USER_AGENT=Setting(str, "CS-Integration-Hub-Webhooks/1.0", "User-Agent of deliveries"),
)
