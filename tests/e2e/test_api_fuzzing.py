"""Fuzz every operation of the served OpenAPI document with schemathesis, through the WSGI app and a real
token: no server error, responses and status codes conform to the schema, invalid data is rejected.

Endpoints added later are fuzzed too, since the operations come from the schema the server serves.
"""

import json

import pytest
import schemathesis
from django.conf import settings
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from csintegration.api.models import WorkerHeartbeat
from csintegration.clients.services import client_create
from csintegration.wsgi import application
from tests.conftest import fetch_token

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
GENEROUS_QUOTAS = {
    "standard": "1000000/hour",
    "realtime": "1000000/hour",
    "bulk": "1000000/day",
    "admin": "1000000/hour",
}


def _served_schema() -> dict:
    """The document /api/schema/ serves, generated without a request (no database needed at collection)."""
    generator = SchemaGenerator()
    return json.loads(OpenApiJsonRenderer().render(generator.get_schema(request=None, public=True)))


@pytest.fixture
def bearer(db):
    # A worker has reported in, so /health is "ok" and a 5xx from it would be a real failure.
    WorkerHeartbeat.objects.create(hostname="fuzz-worker", seen_at=timezone.now())
    credentials = client_create(name="fuzzer", scopes=list(settings.API_SCOPES), rate_limits=GENEROUS_QUOTAS)
    headers = {"Authorization": f"Bearer {fetch_token(credentials)['access_token']}"}
    # The WSGI handler closes "old" connections around each request, which on PostgreSQL would close the
    # test's transaction; Django's test client disconnects the same handlers (and reconnects them after
    # each of its requests, hence after the token request above).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield headers
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


schema = schemathesis.openapi.from_dict(_served_schema())
schema.app = application


@pytest.mark.django_db
@schema.parametrize()
@hypothesis_settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_conforms(case, bearer):
    case.call_and_validate(headers=bearer, checks=CHECKS)
