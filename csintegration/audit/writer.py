"""The audit log's writer: rows are queued in memory and written in batches by one thread per process, so
no request waits for its audit INSERT (``AUDIT_BATCH_WRITES``, on by default).

A batch is written every ``AUDIT_FLUSH_SECONDS`` or every ``AUDIT_BATCH_SIZE`` rows, whichever comes first,
and whatever is queued is written when the process exits normally. A process that is killed loses at most
the rows of its last interval, as asynchronous commit already allows.
"""

import atexit
import logging
import queue
import threading

from django.conf import settings
from django.db import connection

from .models import ApiCall
from .services import api_calls_write

logger = logging.getLogger(__name__)


class _Flush:
    """A marker put on the queue; the writer sets ``done`` once every row queued before it is written."""

    def __init__(self) -> None:
        self.done = threading.Event()


class AuditWriter:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, row: ApiCall) -> None:
        self._ensure_thread()
        self._queue.put(row)

    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything queued so far; True when it was written within ``timeout``."""
        if self._thread is None:
            return True
        marker = _Flush()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                # Started on first use, so each forked web worker has its own.
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            rows, markers = self._collect()
            try:
                api_calls_write(rows)
            finally:
                if self._queue.empty():
                    connection.close()  # an idle writer holds no database connection
                else:
                    connection.close_if_unusable_or_obsolete()
                for marker in markers:
                    marker.done.set()

    def _collect(self) -> tuple[list[ApiCall], list[_Flush]]:
        """Wait for a first item, then take what arrives within the flush interval (up to a batch)."""
        rows: list[ApiCall] = []
        markers: list[_Flush] = []
        item = self._queue.get()
        deadline_wait = settings.AUDIT_FLUSH_SECONDS
        while True:
            if isinstance(item, _Flush):
                markers.append(item)
                return rows, markers
            rows.append(item)
            if len(rows) >= settings.AUDIT_BATCH_SIZE:
                return rows, markers
            try:
                item = self._queue.get(timeout=deadline_wait)
            except queue.Empty:
                return rows, markers


writer = AuditWriter()
atexit.register(writer.flush)
