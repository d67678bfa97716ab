"""gunicorn settings of the ``web`` process (Procfile); command-line options override them, and gunicorn
reads this file whenever it is started from the project's folder.

Requests that gunicorn refuses itself, before Django sees them (a request line or header over the
limits, a malformed request), are answered with an ``application/problem+json`` document like every
other error of the platform (CONTRACT.md §3), instead of gunicorn's HTML page.
"""

import json
import os
import uuid

from gunicorn import util

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "8"))
worker_class = "gthread"
# Ctrl-C under `make run` and a rolling deploy wait this long for requests in flight.
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "15"))
# gunicorn's maximum (8190 bytes) for the request line and each header, so that long query strings
# reach the API, which answers with its own validation errors; only longer ones stop here (414/431).
limit_request_line = 8190
limit_request_field_size = 8190

_PROBLEM_TYPE_BASE = os.environ.get("PROBLEM_TYPE_BASE", "https://csintegration.dev/problems/")
_SLUGS = {400: "bad-request", 413: "payload-too-large", 414: "uri-too-long", 431: "headers-too-large"}


def write_problem(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's ``util.write_error``, answering ``application/problem+json`` (RFC 9457)."""
    request_id = uuid.uuid4().hex
    body = json.dumps(
        {
            "type": f"{_PROBLEM_TYPE_BASE}{_SLUGS.get(status_int, 'bad-request')}",
            "title": reason,
            "status": status_int,
            "detail": mesg or reason,
            "instance": None,
            "request_id": request_id,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Request-ID: {request_id}\r\n\r\n"
    ).encode("latin1")
    util.write_nonblock(sock, head + body)


# The workers are forked from the process that reads this file, so they inherit the replacement.
util.write_error = write_problem
