"""An e-mail backend for worker processes of the tests: Django's file-based backend, writing into the
directory named by ``OPERATIONS_TEST_MAIL_DIR`` (a process of its own cannot share ``mail.outbox``)."""

import os

from django.core.mail.backends.filebased import EmailBackend


class DirectoryEmailBackend(EmailBackend):
    def __init__(self, *args, **kwargs):
        kwargs["file_path"] = os.environ["OPERATIONS_TEST_MAIL_DIR"]
        super().__init__(*args, **kwargs)


def sent_messages(directory) -> list[str]:
    """The Message-ID of every message written into ``directory``."""
    ids = []
    for path in sorted(os.listdir(directory)):
        with open(os.path.join(directory, path)) as handle:
            ids += [line.split(":", 1)[1].strip() for line in handle if line.startswith("Message-ID:")]
    return ids
