"""A request whose database connection drops (PostgreSQL restarted, a backend terminated, a failover)
is run once more on a fresh connection when that is safe, and otherwise answered 503 with
``Retry-After``, never 500.

Safe means nothing was written yet: a GET, HEAD or OPTIONS always is; another method is when no
INSERT, UPDATE or DELETE ran before the failure (the platform writes the idempotency claim, a
signature's replay record and the outbox in the database too, so a request that wrote nothing has
done nothing that a second run could repeat). ``CONN_HEALTH_CHECKS`` already replaces a connection
that died between requests; this covers one that dies during a request.
"""

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError, connection

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WRITES = ("INSERT", "UPDATE", "DELETE", "MERGE", "COPY")


def connection_dropped(exc: BaseException) -> bool:
    """Whether ``exc`` is a database error that left the default connection unusable."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    try:
        return connection.connection is None or not connection.is_usable()
    except Exception:
        return True


class _WriteTracker:
    def __init__(self) -> None:
        self.wrote = False

    def __call__(self, execute, sql, params, many, context):
        if not self.wrote and str(sql).lstrip()[:6].upper().startswith(_WRITES):
            self.wrote = True
        return execute(sql, params, many, context)


class ConnectionRetryMixin:
    """Mixed into every platform view (``views.py``)."""

    def dispatch(self, request, *args, **kwargs):
        if request.method not in SAFE_METHODS:
            try:
                request.body  # noqa: B018  (kept in memory, so that a second run can read the body again)
            except RequestDataTooBig:
                pass  # answered 413 by the view's parser, like any other bad body
        tracker = _WriteTracker()
        with connection.execute_wrapper(tracker):
            response = super().dispatch(request, *args, **kwargs)
        if not getattr(request, "_database_connection_dropped", False):
            return response
        connection.close()  # the next query opens a fresh connection
        if request.method not in SAFE_METHODS and tracker.wrote:
            return response  # the 503 with Retry-After of the exception handler
        request._database_connection_dropped = False
        return super().dispatch(request, *args, **kwargs)
