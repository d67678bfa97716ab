"""WSGI entry point (gunicorn csintegration.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csintegration.settings")
application = get_wsgi_application()

from csintegration.runtime import tune_garbage_collector  # noqa: E402 (needs the settings loaded above)

tune_garbage_collector()
