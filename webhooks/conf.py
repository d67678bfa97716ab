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
        int,
        20,
        "a queued delivery whose task has not started within this is queued again (when the webhooks "
        "queue is short: its message was lost to a broker restart or a killed worker)",
    ),
    WEBHOOK_QUEUE_LEASE_MAX_SECONDS=Setting(
        int, 300, "the same while the queue holds a backlog: it may just be waiting its turn"
    ),
    WEBHOOK_REQUEUE_MAX_BACKLOG=Setting(
        int, 100, "the webhooks queue counts as holding a backlog from this many waiting messages"
    ),
    WEBHOOK_ATTEMPT_LEASE_MARGIN_SECONDS=Setting(
        int, 5, "an attempt in flight holds its delivery for the timeout plus this"
    ),
    WEBHOOK_ENDPOINT_CONCURRENCY=Setting(
        int,
        8,
        "attempts in flight to one endpoint at most; the others wait, so one slow receiver "
        "holds no more than this many worker threads",
    ),
    WEBHOOK_ENDPOINT_BUSY_DELAY_SECONDS=Setting(
        float, 10.0, "a delivery whose endpoint has its attempts in flight waits at most this long"
    ),
    WEBHOOK_SLOW_ENDPOINT_SECONDS=Setting(
        float,
        1.0,
        "an endpoint whose oldest attempt in flight has run this long is slow: its waiting deliveries "
        "rest in the database, and the dispatcher queues no more of them than it has free slots",
    ),
    WEBHOOK_TASK_HOLD_SECONDS=Setting(
        float,
        0.25,
        "an attempt task waits this long for its requests; a slower one is recorded by its sending "
        "thread when it ends, so a slow receiver holds no worker process",
    ),
    WEBHOOK_RECORD_WINDOW_SECONDS=Setting(
        float, 0.05, "attempts of a task that finish within this are recorded together; later ones alone"
    ),
    WEBHOOK_DISPATCH_INTERVAL_SECONDS=Setting(float, 5.0, "how often beat queues due retries"),
    WEBHOOK_DISPATCH_BATCH_SIZE=Setting(int, 500, "deliveries queued per dispatcher batch"),
    WEBHOOK_POOL_SIZE=Setting(int, 10, "pooled connections per receiver host, per process"),
    WEBHOOK_SENDER_THREADS=Setting(
        int,
        64,
        "threads per process that send the attempts of a task in parallel (blocked ones cost little: "
        "enough for every endpoint's limit of slow attempts and the healthy ones beside them)",
    ),
    WEBHOOK_TASK_BATCH_SIZE=Setting(int, 10, "deliveries per attempt task, sent in parallel"),
    WEBHOOK_HEALTH_MAX_DUE_SECONDS=Setting(
        int, 300, "the health check fails when a due delivery has waited longer than this"
    ),
    WEBHOOK_USER_AGENT=Setting(str, "CS-Integration-Hub-Webhooks/1.0", "User-Agent of deliveries"),
)
