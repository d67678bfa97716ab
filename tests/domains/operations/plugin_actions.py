"""A step action of the killed-worker test, registered in the worker process through
``OPERATIONS_ACTION_MODULES`` (as a plug-in would be): it notes each call in a file, then waits until the
test releases it, so that the test can kill the worker in the middle of it."""

import os
import time
from pathlib import Path

from domains.operations.actions import register_step_action

NAME = "test_wait_for_release"


@register_step_action(NAME, label="Waits until the test releases it")
def wait_for_release(context, params):
    directory = Path(os.environ["OPERATIONS_TEST_DIR"])
    with open(directory / "calls", "a") as calls:
        calls.write(f"{context.idempotency_key} {context.attempt}\n")
    deadline = time.monotonic() + 60
    while not (directory / "release").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never released the step")
        time.sleep(0.05)
    return {"attempt": context.attempt}
