"""Runs the Procfile's processes in the foreground for ``make run`` and stops them cleanly on Ctrl-C.

honcho stops its processes by sending SIGTERM to each one's whole process group, so the children of a
Celery worker (its pool) and of gunicorn (its workers) die at once instead of being stopped by their
parent, and it kills what is still running 5 s later. Here SIGTERM goes to each process alone (the
Procfile ``exec``s, so that is the program itself), which then stops its children the way it is built
to (Celery's warm shutdown finishes the task in hand; gunicorn finishes the requests in flight), and
only what still runs after ``PROCFILE_STOP_SECONDS`` (default 20) is killed. A stop that was asked for
(Ctrl-C, SIGTERM) exits with status 0 rather than 130/143.
"""

import errno
import os
import signal
import sys

from honcho import command, compat, manager

REQUESTED_STOP_CODES = {130, 143}  # SIGINT, SIGTERM as honcho reports them


def _terminate_leader(self, pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ESRCH):
            raise


def main(argv: list[str]) -> int:
    manager.KILL_WAIT = int(os.environ.get("PROCFILE_STOP_SECONDS", "20"))
    compat.ProcessManager.terminate = _terminate_leader
    try:
        command.main(["start", *argv])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
        return 0 if code in REQUESTED_STOP_CODES else code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
